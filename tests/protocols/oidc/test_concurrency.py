"""Many requests at once on one server process, tokens and introspection mixed: all of them
answer, none waits out the database's busy timeout. Each provider endpoint ends its transaction
before it answers (on SQLite an open transaction holds the write lock)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from ostiary.clients.secrets import generate_secret, hash_secret
from tests.protocols.oidc.conftest import Provider, make_client, make_world

REQUESTS = 40
AT_ONCE = 8


def test_simultaneous_token_and_introspection_requests_do_not_wait_for_each_other(
    provider: Provider,
) -> None:
    make_world(provider.runtime)
    secret = generate_secret()
    make_client(
        provider.runtime,
        "service",
        public=False,
        token_endpoint_auth_method="client_secret_basic",
        secret_hash=hash_secret(secret),
        redirect_uris=[],
        post_logout_redirect_uris=[],
        grant_types=["client_credentials"],
        scopes=["profile"],
    )
    auth = ("service", secret)

    def token(_: int) -> str:
        answer = requests.post(
            f"{provider.issuer}/oauth2/token",
            data={"grant_type": "client_credentials", "scope": "profile"},
            auth=auth,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def introspect(value: str) -> bool:
        answer = requests.post(
            f"{provider.issuer}/oauth2/introspect", data={"token": value}, auth=auth, timeout=10
        )
        assert answer.status_code == 200, answer.text
        return bool(answer.json()["active"])

    started = time.monotonic()
    with ThreadPoolExecutor(AT_ONCE) as pool:
        tokens = list(pool.map(token, range(REQUESTS)))
        assert all(pool.map(introspect, tokens))
        mixed = list(
            pool.map(lambda i: introspect(tokens[i]) if i % 2 else token(i), range(REQUESTS))
        )
    assert all(mixed)
    # Far below the 30 s busy timeout that a request waiting for a held lock would take.
    assert time.monotonic() - started < 20
