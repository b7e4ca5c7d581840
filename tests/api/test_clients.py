"""``/api/v1/clients``: registering clients, their secrets, the redirect URI rules of RFC 9700."""

from __future__ import annotations

import json
from typing import Any

import pytest
from joserfc.jwk import ECKey
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.clients.secrets import HASH_PREFIX, verify_secret
from ostiary.clients.services import ClientService
from ostiary.runtime import Runtime
from tests.api.test_authorization import api_user, grant
from tests.helpers import assert_problem, make_context, root_id

CLIENTS = "/api/v1/clients"
LOCAL_ONLY = {"API IP Allow": "127.0.0.1/32"}
WEB: dict[str, Any] = {
    "client_id": "portal-web",
    "name": "Portal",
    "redirect_uris": ["https://portal.example.com/callback"],
    "post_logout_redirect_uris": ["https://portal.example.com/"],
    "grant_types": ["authorization_code", "refresh_token"],
    "scopes": ["openid", "profile", "email", "offline_access", "orders.read"],
}
SPA: dict[str, Any] = {
    "client_id": "portal-spa",
    "name": "Portal SPA",
    "public": True,
    "redirect_uris": ["https://portal.example.com/spa/callback"],
}


def create(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = client.post(CLIENTS, json={**WEB, **changes})
    assert response.status_code == 201, response.text
    return dict(response.json())


def secret_matches(runtime: Runtime, client_id: str, secret: str) -> bool:
    with runtime.sessions() as session:
        service = ClientService(session, Actor("test", "cli"))
        stored = service.get(client_id)
        return service.secret_matches(stored, secret)


def stored_hash(runtime: Runtime, client_id: str) -> str | None:
    with runtime.sessions() as session:
        return ClientService(session, Actor("test", "cli")).get(client_id).secret_hash


def audit_changes(runtime: Runtime) -> str:
    """Every audit event's action and changes, as one text to search."""
    with runtime.sessions() as session:
        events = session.scalars(select(AuditEvent)).all()
        return json.dumps([[event.action, event.changes] for event in events])


def public_jwks() -> dict[str, Any]:
    key = ECKey.generate_key("P-256")
    return {"keys": [{**key.as_dict(private=False), "kid": "k1", "use": "sig"}]}


def private_jwks() -> dict[str, Any]:
    return {"keys": [ECKey.generate_key("P-256").as_dict(private=True)]}


# -- secrets ----------------------------------------------------------------------------------


def test_a_confidential_client_gets_a_secret_shown_once(
    client: TestClient, runtime: Runtime
) -> None:
    response = client.post(CLIENTS, json=WEB)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    secret = created["client_secret"]
    assert isinstance(secret, str) and len(secret) >= 43  # 256 bits, base64url
    assert created["token_endpoint_auth_method"] == "client_secret_basic"
    assert created["has_secret"] is True
    assert created["redirect_uris"] == WEB["redirect_uris"]
    assert created["scopes"] == WEB["scopes"]
    assert (created["access_token_seconds"], created["signing_alg"]) == (600, "ES256")

    read = client.get(f"{CLIENTS}/portal-web")
    listed = client.get(CLIENTS)
    assert read.status_code == 200 and listed.status_code == 200
    for text in (read.text, listed.text):
        assert secret not in text and HASH_PREFIX not in text and '"client_secret":' not in text
    assert read.json()["has_secret"] is True
    assert [c["client_id"] for c in listed.json()] == ["portal-web"]

    assert secret_matches(runtime, "portal-web", secret)
    assert not secret_matches(runtime, "portal-web", secret[:-1] + "x")
    assert not secret_matches(runtime, "portal-web", "")


def test_the_secret_is_stored_as_a_sha256_digest(client: TestClient, runtime: Runtime) -> None:
    secret = create(client)["client_secret"]
    digest = stored_hash(runtime, "portal-web")
    assert digest is not None and digest.startswith(HASH_PREFIX) and secret not in digest
    assert verify_secret(digest, secret)


def test_rotating_the_secret_retires_the_old_one(client: TestClient, runtime: Runtime) -> None:
    old = create(client)["client_secret"]

    response = client.post(f"{CLIENTS}/portal-web/secret")

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    new = response.json()["client_secret"]
    assert new and new != old
    assert secret_matches(runtime, "portal-web", new)
    assert not secret_matches(runtime, "portal-web", old)
    assert new not in client.get(f"{CLIENTS}/portal-web").text
    assert "client.secret_rotated" in audit_changes(runtime)


def test_a_public_client_has_no_secret_and_authenticates_with_none(
    client: TestClient, runtime: Runtime
) -> None:
    response = client.post(CLIENTS, json=SPA)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["client_secret"] is None and created["has_secret"] is False
    assert created["token_endpoint_auth_method"] == "none"
    assert "cache-control" not in response.headers
    assert stored_hash(runtime, "portal-spa") is None
    rotate = client.post(f"{CLIENTS}/portal-spa/secret")
    assert_problem(rotate, 422, "rule-violation", "token_endpoint_auth_method")


def test_the_method_must_fit_the_kind_of_client(client: TestClient) -> None:
    public_with_secret = client.post(
        CLIENTS, json={**SPA, "token_endpoint_auth_method": "client_secret_basic"}
    )
    assert_problem(public_with_secret, 422, "invalid-input", "token_endpoint_auth_method")
    confidential_with_none = client.post(
        CLIENTS, json={**WEB, "token_endpoint_auth_method": "none"}
    )
    assert_problem(confidential_with_none, 422, "invalid-input", "token_endpoint_auth_method")
    unknown = client.post(CLIENTS, json={**WEB, "token_endpoint_auth_method": "tls_client_auth"})
    assert_problem(unknown, 422, "invalid-input", "token_endpoint_auth_method")


def test_client_secret_post_also_gets_a_secret(client: TestClient, runtime: Runtime) -> None:
    created = create(client, token_endpoint_auth_method="client_secret_post")
    assert created["token_endpoint_auth_method"] == "client_secret_post"
    assert secret_matches(runtime, "portal-web", created["client_secret"])


def test_a_client_id_is_made_when_none_is_given(client: TestClient) -> None:
    body = {key: value for key, value in WEB.items() if key != "client_id"}
    first = client.post(CLIENTS, json=body)
    second = client.post(CLIENTS, json=body)
    assert first.status_code == second.status_code == 201, first.text
    assert first.json()["client_id"] != second.json()["client_id"]
    assert client.get(f"{CLIENTS}/{first.json()['client_id']}").status_code == 200


# -- private_key_jwt -------------------------------------------------------------------------


def test_private_key_jwt_takes_public_keys_and_has_no_secret(
    client: TestClient, runtime: Runtime
) -> None:
    jwks = public_jwks()
    created = create(client, token_endpoint_auth_method="private_key_jwt", jwks=jwks)
    assert created["client_secret"] is None and created["has_secret"] is False
    assert created["jwks"] == jwks
    assert stored_hash(runtime, "portal-web") is None


def test_private_key_jwt_without_keys_is_422(client: TestClient) -> None:
    response = client.post(CLIENTS, json={**WEB, "token_endpoint_auth_method": "private_key_jwt"})
    assert_problem(response, 422, "invalid-input", "jwks")


@pytest.mark.parametrize(
    "jwks",
    [
        pytest.param(private_jwks(), id="private EC key"),
        pytest.param({"keys": [{"kty": "oct", "k": "c2VjcmV0c2VjcmV0"}]}, id="symmetric key"),
        pytest.param({"keys": []}, id="no keys"),
        pytest.param({"kty": "EC"}, id="a key, not a set"),
        pytest.param({"keys": [{"kty": "EC", "crv": "P-256", "x": "!", "y": "!"}]}, id="broken"),
    ],
)
def test_bad_key_sets_are_422(client: TestClient, jwks: dict[str, Any]) -> None:
    body = {**WEB, "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks}
    problem = assert_problem(client.post(CLIENTS, json=body), 422, "invalid-input", "jwks")
    if jwks.get("keys") and "d" in jwks["keys"][0]:
        assert "private key material" in problem["detail"]
    assert_problem(client.get(f"{CLIENTS}/portal-web"), 404, "not-found")


# -- redirect URIs ----------------------------------------------------------------------------

BAD_REDIRECT_URIS = [
    pytest.param("https://*.example.com/callback", id="wildcard host"),
    pytest.param("https://portal.example.com/*", id="wildcard path"),
    pytest.param("https://portal.example.com/callback#done", id="fragment"),
    pytest.param("https://portal.example.com/callback#", id="empty fragment"),
    pytest.param("http://portal.example.com/callback", id="http to a remote host"),
    pytest.param("http://192.168.1.10/callback", id="http to a private address"),
    pytest.param("javascript:alert(document.cookie)", id="javascript"),
    pytest.param("JavaScript:alert(1)", id="javascript in capitals"),
    pytest.param("data:text/html,<script>alert(1)</script>", id="data"),
    pytest.param("https://user@portal.example.com/callback", id="userinfo"),
    pytest.param("https://user:pw@portal.example.com/callback", id="userinfo with password"),
    pytest.param("https://portal.example.com@evil.example/callback", id="userinfo host trick"),
    pytest.param("/callback", id="relative"),
    pytest.param("https:///callback", id="no host"),
    pytest.param("https://portal.example.com:99999/callback", id="bad port"),
    pytest.param("myapp:/callback", id="private-use scheme not a reverse domain"),
    pytest.param("https://portal.example.com\\@evil.example/", id="backslash"),
    pytest.param("https://portal.example.com/call back", id="space"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("uri", BAD_REDIRECT_URIS)
def test_bad_redirect_uris_are_422_naming_the_entry(client: TestClient, uri: str) -> None:
    body = {**WEB, "redirect_uris": [*WEB["redirect_uris"], uri]}
    assert_problem(client.post(CLIENTS, json=body), 422, "invalid-input", "redirect_uris[1]")
    logout = {**WEB, "post_logout_redirect_uris": [uri]}
    assert_problem(
        client.post(CLIENTS, json=logout), 422, "invalid-input", "post_logout_redirect_uris[0]"
    )
    assert client.get(CLIENTS).json() == []


def test_redirect_uris_of_native_apps_and_loopback_are_kept_exactly(client: TestClient) -> None:
    uris = [
        "http://localhost:8765/callback",
        "http://127.0.0.1/callback",
        "http://[::1]:50123/callback",
        "com.example.portal:/oauth2redirect",
        "https://Portal.Example.com/Callback/?tenant=a&x=1",
    ]
    created = client.post(CLIENTS, json={**SPA, "redirect_uris": uris})
    assert created.status_code == 201, created.text
    assert created.json()["redirect_uris"] == uris
    assert client.get(f"{CLIENTS}/portal-spa").json()["redirect_uris"] == uris


def test_authorization_code_needs_a_redirect_uri(client: TestClient) -> None:
    response = client.post(CLIENTS, json={**WEB, "redirect_uris": []})
    assert_problem(response, 422, "invalid-input", "redirect_uris")


# -- grants, scopes, lifetimes, module --------------------------------------------------------


@pytest.mark.parametrize("grant", ["implicit", "password", "urn:ietf:params:oauth:grant-type:x"])
def test_grants_other_than_the_three_are_422(client: TestClient, grant: str) -> None:
    body = {**WEB, "grant_types": ["authorization_code", grant]}
    problem = assert_problem(client.post(CLIENTS, json=body), 422, "invalid-input")
    assert problem["field"] == "grant_types[1]"
    if grant in ("implicit", "password"):
        assert "RFC 9700" in problem["detail"]


def test_grant_combinations(client: TestClient) -> None:
    public_credentials = client.post(CLIENTS, json={**SPA, "grant_types": ["client_credentials"]})
    assert_problem(public_credentials, 422, "invalid-input", "grant_types")
    refresh_alone = client.post(CLIENTS, json={**WEB, "grant_types": ["refresh_token"]})
    assert_problem(refresh_alone, 422, "invalid-input", "grant_types")
    nothing = client.post(CLIENTS, json={**WEB, "grant_types": []})
    assert_problem(nothing, 422, "invalid-input", "grant_types")
    machine = create(client, redirect_uris=[], grant_types=["client_credentials"], scopes=["api"])
    assert machine["grant_types"] == ["client_credentials"] and machine["client_secret"]


def test_scopes_must_be_tokens(client: TestClient) -> None:
    for scope in ("orders read", "orders*", '"quoted"', ""):
        body = {**WEB, "scopes": ["openid", scope]}
        assert_problem(client.post(CLIENTS, json=body), 422, "invalid-input", "scopes[1]")
    fine = ["openid", "phone", "api:write", "https://api.example.com/orders.read"]
    assert create(client, scopes=fine)["scopes"] == fine


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"access_token_seconds": 59}, "access_token_seconds"),
        ({"access_token_seconds": 86401}, "access_token_seconds"),
        ({"access_token_seconds": "600"}, "access_token_seconds"),
        ({"refresh_token_seconds": 10}, "refresh_token_seconds"),
        ({"refresh_token_seconds": 3600, "refresh_idle_seconds": 7200}, "refresh_idle_seconds"),
        ({"signing_alg": "HS256"}, "signing_alg"),
    ],
)
def test_lifetimes_and_algorithm_out_of_range_are_422(
    client: TestClient, changes: dict[str, Any], field: str
) -> None:
    assert_problem(client.post(CLIENTS, json={**WEB, **changes}), 422, "invalid-input", field)


def test_lifetimes_algorithm_and_context_are_stored(client: TestClient) -> None:
    settings = {
        "access_token_seconds": 60,
        "refresh_token_seconds": 3600,
        "refresh_idle_seconds": 3600,
        "signing_alg": "RS256",
        "requires_context": False,
        "enabled": False,
    }
    created = create(client, **settings)
    read = client.get(f"{CLIENTS}/portal-web").json()
    assert {key: created[key] for key in settings} == settings
    assert {key: read[key] for key in settings} == settings


def test_the_module_is_named_by_key(client: TestClient) -> None:
    unknown = client.post(CLIENTS, json={**WEB, "module": "nowhere"})
    assert_problem(unknown, 422, "rule-violation", "module")
    assert client.get(CLIENTS).json() == []
    module = client.post("/api/v1/modules", json={"key": "portal", "name": "Portal"})
    assert module.status_code == 201, module.text
    assert create(client, module="portal")["module"] == "portal"
    assert client.get(f"{CLIENTS}/portal-web").json()["module"] == "portal"


def test_unknown_fields_are_422(client: TestClient) -> None:
    given = client.post(CLIENTS, json={**WEB, "client_secret": "my own secret, long enough?"})
    assert_problem(given, 422, "invalid-input", "client_secret")


def test_duplicate_client_id_is_409(client: TestClient) -> None:
    create(client)
    again = client.post(CLIENTS, json={**WEB, "name": "Another"})
    assert_problem(again, 409, "already-exists", "client_id")
    assert client.get(f"{CLIENTS}/portal-web").json()["name"] == "Portal"


# -- changing and deleting ----------------------------------------------------------------------


def test_patch_changes_only_the_fields_given(client: TestClient, runtime: Runtime) -> None:
    secret = create(client)["client_secret"]
    response = client.patch(
        f"{CLIENTS}/portal-web",
        json={"name": "Portal 2", "redirect_uris": ["https://portal.example.com/cb2"]},
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["name"] == "Portal 2"
    assert changed["redirect_uris"] == ["https://portal.example.com/cb2"]
    assert changed["scopes"] == WEB["scopes"] and changed["client_secret"] is None
    assert secret_matches(runtime, "portal-web", secret)


def test_patch_is_checked_as_a_whole(client: TestClient) -> None:
    create(client)
    bad_uri = client.patch(f"{CLIENTS}/portal-web", json={"redirect_uris": ["http://x.example/"]})
    assert_problem(bad_uri, 422, "invalid-input", "redirect_uris[0]")
    no_redirects = client.patch(f"{CLIENTS}/portal-web", json={"redirect_uris": []})
    assert_problem(no_redirects, 422, "invalid-input", "redirect_uris")
    idle = client.patch(f"{CLIENTS}/portal-web", json={"refresh_idle_seconds": 365 * 24 * 3600})
    assert_problem(idle, 422, "invalid-input", "refresh_idle_seconds")
    grants = client.patch(f"{CLIENTS}/portal-web", json={"grant_types": ["implicit"]})
    assert_problem(grants, 422, "invalid-input", "grant_types[0]")
    name = client.patch(f"{CLIENTS}/portal-web", json={"name": None})
    assert_problem(name, 422, "invalid-input", "name")
    module = client.patch(f"{CLIENTS}/portal-web", json={"module": "nowhere"})
    assert_problem(module, 422, "rule-violation", "module")
    assert client.get(f"{CLIENTS}/portal-web").json()["name"] == "Portal"


def test_turning_public_drops_the_secret(client: TestClient, runtime: Runtime) -> None:
    create(client, grant_types=["authorization_code"])
    response = client.patch(f"{CLIENTS}/portal-web", json={"public": True})
    assert response.status_code == 200, response.text
    assert response.json()["token_endpoint_auth_method"] == "none"
    assert response.json()["has_secret"] is False
    assert stored_hash(runtime, "portal-web") is None


def test_a_client_that_comes_to_need_a_secret_gets_one(
    client: TestClient, runtime: Runtime
) -> None:
    client.post(CLIENTS, json=SPA)
    response = client.patch(f"{CLIENTS}/portal-spa", json={"public": False})
    assert response.status_code == 200, response.text
    secret = response.json()["client_secret"]
    assert response.json()["token_endpoint_auth_method"] == "client_secret_basic"
    assert response.headers["cache-control"] == "no-store"
    assert secret and secret_matches(runtime, "portal-spa", secret)


def test_delete(client: TestClient, runtime: Runtime) -> None:
    create(client)
    assert client.delete(f"{CLIENTS}/portal-web").status_code == 204
    assert_problem(client.get(f"{CLIENTS}/portal-web"), 404, "not-found", "client_id")
    assert_problem(client.delete(f"{CLIENTS}/portal-web"), 404, "not-found")
    assert_problem(client.post(f"{CLIENTS}/portal-web/secret"), 404, "not-found")
    assert client.get(CLIENTS).json() == []
    assert "client.deleted" in audit_changes(runtime)


# -- audit ------------------------------------------------------------------------------------


def test_every_change_is_audited_without_the_secret(client: TestClient, runtime: Runtime) -> None:
    first = create(client)["client_secret"]
    second = client.post(f"{CLIENTS}/portal-web/secret").json()["client_secret"]
    client.patch(f"{CLIENTS}/portal-web", json={"name": "Renamed"})
    third = client.post(CLIENTS, json={**SPA, "public": False, "client_id": "x"}).json()
    client.delete(f"{CLIENTS}/portal-web")
    with runtime.sessions() as session:
        hashes = [h for h in [ClientService(session, Actor("t", "cli")).get("x").secret_hash] if h]

    logged = audit_changes(runtime)
    for action in ("client.created", "client.updated", "client.secret_issued", "client.deleted"):
        assert action in logged
    for secret in (first, second, third["client_secret"], *hashes, HASH_PREFIX):
        assert secret not in logged
    events = client.get("/api/v1/audit-events", params={"limit": 200}).text
    for secret in (first, second, third["client_secret"], HASH_PREFIX):
        assert secret not in events


# -- who may ----------------------------------------------------------------------------------


def test_an_account_administrator_cannot_change_clients(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    create(client)
    acme = make_context(client, root_id(client), "account", "Acme", key="acme")
    api_user(client, "acmeadmin", [acme["id"]], domain="ENTERPRISE")
    grant(runtime, "acmeadmin", "acme", {"access": True, "clients.manage": True, **LOCAL_ONLY})
    anonymous.auth = ("acmeadmin", "pw of nimdaemca 123")
    before = audit_changes(runtime)

    assert anonymous.get(CLIENTS).status_code == 200
    refused = [
        anonymous.post(CLIENTS, json={**WEB, "client_id": "mine"}),
        anonymous.patch(f"{CLIENTS}/portal-web", json={"redirect_uris": ["https://evil.example/"]}),
        anonymous.post(f"{CLIENTS}/portal-web/secret"),
        anonymous.delete(f"{CLIENTS}/portal-web"),
    ]
    for response in refused:
        assert_problem(response, 403, "forbidden")
    assert client.get(f"{CLIENTS}/portal-web").json()["redirect_uris"] == WEB["redirect_uris"]
    assert audit_changes(runtime) == before


def test_clients_manage_is_needed_even_at_the_root(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    api_user(client, "looker", [root_id(client)])
    grant(runtime, "looker", "root", {"access": True, "modules.manage": True, **LOCAL_ONLY})
    anonymous.auth = ("looker", "pw of rekool 123")
    assert_problem(anonymous.get(CLIENTS), 403, "forbidden")
    assert_problem(anonymous.post(CLIENTS, json=WEB), 403, "forbidden")

    api_user(client, "registrar", [root_id(client)])
    grant(runtime, "registrar", "root", {"access": True, "clients.manage": True, **LOCAL_ONLY})
    anonymous.auth = ("registrar", "pw of rartsiger 123")
    assert anonymous.post(CLIENTS, json=WEB).status_code == 201
    assert anonymous.delete(f"{CLIENTS}/portal-web").status_code == 204


def test_without_credentials_is_401(anonymous: TestClient) -> None:
    assert_problem(anonymous.get(CLIENTS), 401, "unauthenticated")
    assert_problem(anonymous.post(CLIENTS, json=WEB), 401, "unauthenticated")
