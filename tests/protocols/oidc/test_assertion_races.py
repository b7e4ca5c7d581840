"""A private_key_jwt client assertion sent twice at the same moment to a real server: the
database lets exactly one of the two requests use it (RFC 7523 §3)."""

from __future__ import annotations

import threading

import httpx2 as httpx
import pytest
from joserfc.jwk import ECKey

from ostiary.runtime import Runtime
from tests.protocols.oidc.conftest import Provider, make_client, make_world
from tests.protocols.oidc.test_private_key_jwt import JWT_BEARER, assertion


@pytest.fixture
def key(runtime: Runtime) -> ECKey:
    key = ECKey.generate_key("P-256", parameters={"kid": "client-key-1"})
    make_world(runtime)
    make_client(
        runtime,
        "machine",
        public=False,
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False)]},
        grant_types=["client_credentials"],
        scopes=["orders"],
    )
    return key


@pytest.mark.parametrize("attempts", [2, 6])
def test_simultaneous_uses_of_one_assertion_exactly_one_wins(
    provider: Provider, key: ECKey, attempts: int
) -> None:
    signed = assertion(key, audience=f"{provider.issuer}/oauth2/token")
    start = threading.Barrier(attempts)
    statuses: list[int] = []
    errors: list[str] = []

    def use() -> None:
        with httpx.Client(base_url=provider.issuer, timeout=60) as http:
            start.wait()
            response = http.post(
                "/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_assertion_type": JWT_BEARER,
                    "client_assertion": signed,
                },
            )
        statuses.append(response.status_code)
        if response.status_code != 200:
            errors.append(response.json()["error"])

    threads = [threading.Thread(target=use) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [401] * (attempts - 1)
    assert errors == ["invalid_client"] * (attempts - 1)
