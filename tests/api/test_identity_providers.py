"""``/api/v1/identity-providers``: CRUD by root staff, audited, the client secret never shown."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.federation.models import IdentityProvider
from ostiary.runtime import Runtime
from tests.api.test_authorization import api_user, grant
from tests.helpers import assert_problem, make_context, root_id

URL = "/api/v1/identity-providers"
SECRET = "upstream client secret 4711"


def delegated_domain(client: TestClient, name: str = "PARTNER") -> None:
    made = client.post(
        "/api/v1/domains", json={"name": name, "kind": "delegated", "context_types": ["account"]}
    )
    assert made.status_code == 201, made.text


def provider_body(**overrides: Any) -> dict[str, Any]:
    return {
        "key": "corp",
        "name": "Corp SSO",
        "issuer": "https://sso.corp.example",
        "client_id": "ostiary",
        "client_secret": SECRET,
        "domain": "PARTNER",
        "email_domains": ["Corp.example"],
        "roles_claim": "roles",
        **overrides,
    }


def test_a_provider_is_created_read_changed_and_deleted(client: TestClient) -> None:
    delegated_domain(client)
    created = client.post(URL, json=provider_body())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["domain"] == "PARTNER" and body["email_domains"] == ["corp.example"]
    assert body["scopes"] == ["openid", "email", "profile"] and body["enabled"] is True
    assert [p["key"] for p in client.get(URL).json()] == ["corp"]
    changed = client.patch(f"{URL}/corp", json={"enabled": False, "roles_claim": None})
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is False and changed.json()["roles_claim"] is None
    assert client.delete(f"{URL}/corp").status_code == 204
    assert_problem(client.get(f"{URL}/corp"), 404, "not-found", "key")
    events = client.get("/api/v1/audit-events", params={"target": body["id"]}).json()["items"]
    assert [e["action"] for e in events] == [
        "identity_provider.deleted",
        "identity_provider.updated",
        "identity_provider.created",
    ]
    assert events[1]["changes"]["enabled"] == [True, False]


def test_the_client_secret_is_never_shown_logged_or_stored_in_clear(
    client: TestClient, runtime: Runtime
) -> None:
    delegated_domain(client)
    provider_id = client.post(URL, json=provider_body()).json()["id"]
    replaced = client.patch(f"{URL}/corp", json={"client_secret": "another secret 0815"})
    assert replaced.status_code == 200
    shown = json.dumps(
        [
            client.get(URL).json(),
            client.get(f"{URL}/corp").json(),
            replaced.json(),
            client.get("/api/v1/audit-events", params={"target": provider_id}).json(),
        ]
    )
    assert SECRET not in shown and "another secret" not in shown
    with runtime.sessions() as session:
        stored = session.scalars(select(IdentityProvider)).one()
        assert stored.client_secret.startswith("v1.") and "secret" not in stored.client_secret


def test_bad_input_is_refused_and_changes_nothing(client: TestClient) -> None:
    delegated_domain(client)
    assert_problem(client.post(URL, json=provider_body(domain="CSP")), 422, "rule-violation")
    assert_problem(client.post(URL, json=provider_body(domain="NOPE")), 404, "not-found", "domain")
    for issuer in ("http://sso.corp.example", "https://sso.corp.example/?x=1", "corp"):
        problem = client.post(URL, json=provider_body(issuer=issuer))
        assert problem.status_code == 422, issuer
    assert client.post(URL, json=provider_body(scopes=["email"])).status_code == 422
    assert client.get(URL).json() == []

    assert client.post(URL, json=provider_body()).status_code == 201
    assert_problem(client.post(URL, json=provider_body()), 409, "already-exists", "key")
    taken = client.post(URL, json=provider_body(key="other", email_domains=["corp.example"]))
    assert_problem(taken, 409, "already-exists", "email_domains")
    assert_problem(client.patch(f"{URL}/corp", json={"name": None}), 422, "rule-violation")
    assert client.get(f"{URL}/corp").json()["name"] == "Corp SSO"


def test_staff_below_the_root_cannot_reach_providers(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    delegated_domain(client)
    acme = make_context(client, root_id(client), "account", "Acme", key="acme")
    api_user(client, "acme-admin", [acme["id"]])
    grant(runtime, "acme-admin", "acme", {"domains.manage": True, "API IP Allow": "127.0.0.1/32"})
    anonymous.auth = ("acme-admin", "pw of nimda-emca 123")
    assert_problem(anonymous.get(URL), 403, "forbidden")
    assert_problem(anonymous.post(URL, json=provider_body()), 403, "forbidden")
    assert client.get(URL).json() == []
