"""Client authentication by private_key_jwt (RFC 7523 §2.2) at the token endpoint."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import select, update
from starlette.testclient import TestClient

from ostiary.db.types import utcnow
from ostiary.protocols.oidc.models import UsedClientAssertion
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.protocols.oidc.conftest import make_client, make_world

TOKEN_URL = "http://testserver/oauth2/token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver"}


@pytest.fixture
def key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "client-key-1"})


@pytest.fixture
def api(runtime: Runtime, key: ECKey) -> Any:
    make_world(runtime)
    public = key.as_dict(private=False)
    make_client(
        runtime,
        "machine",
        public=False,
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [public]},
        grant_types=["client_credentials"],
        scopes=["orders"],
    )
    with TestClient(app_for(runtime), client=LOCAL_CLIENT) as client:
        yield client


def assertion(key: ECKey, audience: str = TOKEN_URL, **changes: Any) -> str:
    """A signed client assertion of ``machine``; a change to None leaves the claim out."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "machine",
        "sub": "machine",
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": "ES256", "kid": "client-key-1"}, claims, key)


def request_token(api: TestClient, signed: str) -> Any:
    return api.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "scope": "orders",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": signed,
        },
    )


def test_a_signed_assertion_authenticates(api: TestClient, key: ECKey) -> None:
    response = request_token(api, assertion(key))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "orders"


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "http://elsewhere/token"},
        {"iss": "someone-else"},
        {"sub": "someone-else"},
        {"exp": int(time.time()) - 10},
        {"exp": int(time.time()) + 3600},
        {"exp": None},
        {"exp": "soon"},
        {"jti": None},
        {"jti": ""},
        {"jti": 42},
        {"jti": "x" * 256},
    ],
)
def test_wrong_assertions_are_refused(api: TestClient, key: ECKey, changes: dict[str, Any]) -> None:
    response = request_token(api, assertion(key, **changes))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("claim", "ahead"),
    [("exp", 330), ("exp", -5), ("nbf", 240), ("iat", 240)],
)
def test_assertions_live_at_most_five_minutes_and_not_in_the_future(
    api: TestClient, key: ECKey, claim: str, ahead: int
) -> None:
    response = request_token(api, assertion(key, **{claim: int(time.time()) + ahead}))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_an_assertion_signed_by_another_key_is_refused(api: TestClient) -> None:
    other = ECKey.generate_key("P-256", parameters={"kid": "client-key-1"})
    response = request_token(api, assertion(other))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_a_secret_is_not_accepted_for_this_client(api: TestClient) -> None:
    response = api.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "machine",
            "client_secret": "x" * 43,
        },
    )
    assert response.status_code == 401


def test_an_assertion_is_accepted_once(api: TestClient, key: ECKey) -> None:
    signed = assertion(key)
    assert request_token(api, signed).status_code == 200
    replayed = request_token(api, signed)
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_client"
    # Nor at another endpoint that takes client authentication.
    introspected = api.post(
        "/oauth2/introspect",
        data={"token": "x", "client_assertion_type": JWT_BEARER, "client_assertion": signed},
    )
    assert introspected.status_code == 401


def test_a_new_assertion_with_the_same_jti_is_refused(api: TestClient, key: ECKey) -> None:
    assert request_token(api, assertion(key, jti="once")).status_code == 200
    again = request_token(api, assertion(key, jti="once", exp=int(time.time()) + 120))
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"


def test_the_assertion_is_spent_even_when_the_request_fails(api: TestClient, key: ECKey) -> None:
    signed = assertion(key)
    refused = api.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "scope": "not-allowed",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": signed,
        },
    )
    assert refused.json()["error"] == "invalid_scope"
    assert request_token(api, signed).json()["error"] == "invalid_client"


def test_expired_assertion_ids_are_purged(api: TestClient, key: ECKey, runtime: Runtime) -> None:
    assert request_token(api, assertion(key, jti="old")).status_code == 200
    with runtime.sessions() as session, session.atomic():
        session.execute(
            update(UsedClientAssertion).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert request_token(api, assertion(key, jti="new")).status_code == 200
    with runtime.sessions() as session:
        assert session.scalars(select(UsedClientAssertion.jti)).all() == ["new"]
