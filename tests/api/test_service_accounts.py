"""Service accounts: a confidential client allowed client_credentials acts at the admin API as
its own user, whose memberships and groups decide what it may do, exactly as for HTTP Basic."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.authn.login import PasswordLogin
from ostiary.errors import Unauthenticated
from ostiary.runtime import Runtime
from ostiary.users.models import User
from tests.api.test_authorization import api_user, grant
from tests.api.test_escalation import ADMIN_RIGHTS
from tests.api.test_groups import EP, groups_url
from tests.conftest import LOCAL_CLIENT
from tests.helpers import assert_problem, make_context, make_user, root_id

READER_RIGHTS = {"access": True, "users.read": True, "API IP Allow": "127.0.0.0/8"}


def register(client: TestClient, client_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "client_id": client_id,
        "name": client_id,
        "module": "ostiary",
        "grant_types": ["client_credentials"],
        "scopes": ["admin"],
        **fields,
    }
    response = client.post("/api/v1/clients", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def token_for(api: TestClient, client_id: str, secret: str) -> str:
    response = api.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "admin"},
        auth=(client_id, secret),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """Acme with a sub-account and a worker there, another account with a stranger, a contact
    person administering Acme, and the client ``crm-sync`` whose account reads Acme's users."""
    assert client.post("/api/v1/modules", json=EP).status_code == 201
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", key="acme")
    sub = make_context(client, acme["id"], "account", "Acme Sub", key="acme-sub")
    other = make_context(client, root, "account", "Other", key="other")
    worker = make_user(client, "worker", status="active", context_ids=[sub["id"]])
    stranger = make_user(client, "stranger", status="active", context_ids=[other["id"]])
    registered = register(client, "crm-sync")
    account = registered["service_account_user_id"]
    assert client.put(f"/api/v1/users/{account}/contexts/{acme['id']}").status_code == 204
    readers = client.post(
        groups_url(acme["id"]), json={"name": "Readers", "rights": {"ostiary": READER_RIGHTS}}
    ).json()
    joined = client.put(f"{groups_url(acme['id'])}/{readers['id']}/members/{account}")
    assert joined.status_code == 204
    api_user(client, "contact", [acme["id"]], domain="ENTERPRISE")
    grant(runtime, "contact", "acme", ADMIN_RIGHTS, group="Contacts")
    as_contact = TestClient(client.app, client=LOCAL_CLIENT)
    as_contact.auth = ("contact", "pw of tcatnoc 123")
    return {
        "acme": acme["id"],
        "sub": sub["id"],
        "other": other["id"],
        "worker": worker["id"],
        "stranger": stranger["id"],
        "account": account,
        "secret": registered["client_secret"],
        "as_contact": as_contact,
    }


# -- the account and its client -----------------------------------------------------------------


def test_a_client_credentials_client_gets_a_service_account(
    client: TestClient, world: dict[str, Any]
) -> None:
    account = client.get(f"/api/v1/users/{world['account']}").json()
    assert account["username"] == "service-account-crm-sync"
    assert account["service_account"] is True
    assert account["has_password"] is False and account["status"] == "active"
    assert account["email"] is None
    shown = client.get("/api/v1/clients/crm-sync").json()
    assert shown["service_account_user_id"] == world["account"]
    created = client.get(
        "/api/v1/audit-events", params={"action": "user.created", "target": world["account"]}
    ).json()["items"]
    assert len(created) == 1
    assert created[0]["changes"]["service_account"] is True
    assert created[0]["changes"]["client_id"] == "crm-sync"
    assert created[0]["actor"] == "admin"


def test_only_confidential_clients_allowed_client_credentials_have_one(
    client: TestClient,
) -> None:
    web = register(
        client,
        "web",
        grant_types=["authorization_code"],
        redirect_uris=["https://app.example/cb"],
    )
    assert web["service_account_user_id"] is None
    spa = register(
        client,
        "spa",
        public=True,
        grant_types=["authorization_code"],
        redirect_uris=["https://app.example/cb"],
    )
    assert spa["service_account_user_id"] is None
    # Adding the grant makes the account, once.
    changed = client.patch(
        "/api/v1/clients/web", json={"grant_types": ["authorization_code", "client_credentials"]}
    ).json()
    assert changed["service_account_user_id"] is not None
    again = client.patch("/api/v1/clients/web", json={"name": "Web app"}).json()
    assert again["service_account_user_id"] == changed["service_account_user_id"]
    account = client.get(f"/api/v1/users/{changed['service_account_user_id']}").json()
    assert account["username"] == "service-account-web"


def test_client_ids_that_differ_in_case_get_distinct_accounts(client: TestClient) -> None:
    first = register(client, "Sync~Job")["service_account_user_id"]
    second = register(client, "sync-job")["service_account_user_id"]
    names = {client.get(f"/api/v1/users/{i}").json()["username"] for i in (first, second)}
    assert len(names) == 2
    assert all(name.startswith("service-account-sync-job") for name in names)


def test_the_prefix_is_reserved(client: TestClient) -> None:
    response = client.post(
        "/api/v1/users", json={"username": "service-account-mine", "domain": "CSP"}
    )
    assert_problem(response, 422, "invalid-input")


# -- at the admin API -----------------------------------------------------------------------------


def test_its_token_acts_within_the_rights_of_its_groups(
    client: TestClient, anonymous: TestClient, world: dict[str, Any]
) -> None:
    token = token_for(anonymous, "crm-sync", world["secret"])
    api = anonymous
    listed = api.get("/api/v1/users", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    names = {user["username"] for user in listed.json()["items"]}
    assert "worker" in names and "stranger" not in names and "admin" not in names
    assert api.get(f"/api/v1/users/{world['worker']}", headers=bearer(token)).status_code == 200
    # Outside its subtree: as absent, as for users.
    assert_problem(
        api.get(f"/api/v1/users/{world['stranger']}", headers=bearer(token)), 404, "not-found"
    )
    assert_problem(
        api.get(f"/api/v1/contexts/{world['other']}/groups", headers=bearer(token)),
        404,
        "not-found",
    )
    # A right it does not hold anywhere.
    assert_problem(
        api.post(
            "/api/v1/users",
            json={
                "username": "made-by-sync",
                "domain": "ENTERPRISE",
                "context_ids": [world["sub"]],
            },
            headers=bearer(token),
        ),
        403,
        "forbidden",
    )
    # What it reads is audited under its own name.
    events = client.get("/api/v1/audit-events", params={"action": "access.out_of_reach"}).json()
    assert any(e["actor"] == "service-account-crm-sync" for e in events["items"])


def test_without_memberships_it_may_do_nothing(client: TestClient, anonymous: TestClient) -> None:
    secret = register(client, "idle")["client_secret"]
    token = token_for(anonymous, "idle", secret)
    assert_problem(anonymous.get("/api/v1/users", headers=bearer(token)), 403, "forbidden")


def test_api_ip_allow_of_its_contexts_applies(client: TestClient, world: dict[str, Any]) -> None:
    token = token_for(client, "crm-sync", world["secret"])
    elsewhere = TestClient(client.app, client=("192.0.2.7", 50000))
    assert_problem(elsewhere.get("/api/v1/users", headers=bearer(token)), 403, "forbidden")


def test_a_disabled_client_stops_at_once_and_comes_back(
    client: TestClient, anonymous: TestClient, world: dict[str, Any]
) -> None:
    token = token_for(anonymous, "crm-sync", world["secret"])
    assert anonymous.get("/api/v1/users", headers=bearer(token)).status_code == 200
    assert client.patch("/api/v1/clients/crm-sync", json={"enabled": False}).status_code == 200
    assert_problem(anonymous.get("/api/v1/users", headers=bearer(token)), 401, "unauthenticated")
    refused = anonymous.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=("crm-sync", world["secret"]),
    )
    assert refused.status_code == 401
    assert client.patch("/api/v1/clients/crm-sync", json={"enabled": True}).status_code == 200
    assert anonymous.get("/api/v1/users", headers=bearer(token)).status_code == 200


def test_a_deactivated_account_pauses_its_client(
    client: TestClient, anonymous: TestClient, world: dict[str, Any]
) -> None:
    token = token_for(anonymous, "crm-sync", world["secret"])
    account = world["account"]
    assert client.post(f"/api/v1/users/{account}/deactivate").status_code == 200
    assert_problem(anonymous.get("/api/v1/users", headers=bearer(token)), 401, "unauthenticated")
    refused = anonymous.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=("crm-sync", world["secret"]),
    )
    assert refused.json()["error"] == "unauthorized_client"
    introspected = anonymous.post(
        "/oauth2/introspect", data={"token": token}, auth=("crm-sync", world["secret"])
    )
    assert introspected.json() == {"active": False}
    # It is deleted with its client, not on its own.
    assert_problem(client.post(f"/api/v1/users/{account}/delete"), 422, "rule-violation", "status")
    assert client.post(f"/api/v1/users/{account}/activate").status_code == 200
    assert anonymous.get("/api/v1/users", headers=bearer(token)).status_code == 200


def test_deleting_the_client_deletes_its_account(
    client: TestClient, anonymous: TestClient, world: dict[str, Any]
) -> None:
    token = token_for(anonymous, "crm-sync", world["secret"])
    assert client.delete("/api/v1/clients/crm-sync").status_code == 204
    assert_problem(anonymous.get("/api/v1/users", headers=bearer(token)), 401, "unauthenticated")
    account = client.get(f"/api/v1/users/{world['account']}").json()
    assert account["status"] == "deleted" and account["username"].startswith("deleted-")
    assert client.get(f"/api/v1/users/{world['account']}/contexts").json() == []
    # The client id can be registered again, with a new account.
    again = register(client, "crm-sync")
    assert again["service_account_user_id"] not in (None, world["account"])


def test_losing_the_grant_ends_its_admin_api_access(
    client: TestClient, anonymous: TestClient, world: dict[str, Any]
) -> None:
    token = token_for(anonymous, "crm-sync", world["secret"])
    changed = client.patch(
        "/api/v1/clients/crm-sync",
        json={"grant_types": ["authorization_code"], "redirect_uris": ["https://crm.example/cb"]},
    )
    assert changed.status_code == 200, changed.text
    # The account stays with its memberships, for when the grant comes back.
    assert changed.json()["service_account_user_id"] == world["account"]
    assert_problem(anonymous.get("/api/v1/users", headers=bearer(token)), 401, "unauthenticated")


# -- it never signs in itself ------------------------------------------------------------------------


def test_it_has_no_password_and_cannot_get_one(client: TestClient, world: dict[str, Any]) -> None:
    account = world["account"]
    assert_problem(
        client.put(f"/api/v1/users/{account}/password", json={"password": "a long new password"}),
        422,
        "rule-violation",
        "password",
    )
    for field, value in (("email", "sync@example.com"), ("username", "renamed")):
        assert_problem(
            client.patch(f"/api/v1/users/{account}", json={field: value}),
            422,
            "rule-violation",
            field,
        )
    # Names are only labels.
    named = client.patch(f"/api/v1/users/{account}", json={"first_name": "CRM"})
    assert named.status_code == 200 and named.json()["first_name"] == "CRM"


def test_it_cannot_sign_in_even_with_a_password_hash_in_its_row(
    runtime: Runtime, anonymous: TestClient, world: dict[str, Any]
) -> None:
    password = "a password planted in the database"
    with runtime.sessions() as session, session.atomic():
        user = session.scalars(
            select(User).where(User.username == "service-account-crm-sync")
        ).one()
        user.password_hash = runtime.passwords.hash(password)
    assert_problem(
        anonymous.get("/api/v1/users", auth=("service-account-crm-sync", password)),
        401,
        "unauthenticated",
    )
    with runtime.sessions() as session:
        with pytest.raises(Unauthenticated):
            runtime.basic.authenticate(session, "service-account-crm-sync", password)
        login = PasswordLogin(session, runtime.passwords, runtime.basic.decoy_hash)
        assert login.verify("service-account-crm-sync", password) is None


# -- nobody gives it more than they hold ------------------------------------------------------------


def test_a_contact_person_cannot_put_it_into_a_stronger_group(
    client: TestClient, world: dict[str, Any]
) -> None:
    me: TestClient = world["as_contact"]
    account = world["account"]
    strong = client.post(
        groups_url(world["acme"]),
        json={"name": "Strong", "rights": {"ostiary": {"access": True, "clients.manage": True}}},
    ).json()
    before = client.get(f"{groups_url(world['acme'])}/{strong['id']}/members").json()
    assert_problem(
        me.put(f"{groups_url(world['acme'])}/{strong['id']}/members/{account}"),
        403,
        "escalation-refused",
    )
    assert client.get(f"{groups_url(world['acme'])}/{strong['id']}/members").json() == before
    # Within their own rights it works as for any user of their organization.
    held = me.post(
        groups_url(world["acme"]),
        json={
            "name": "Lifecycle",
            "rights": {"ostiary": {"access": True, "users.lifecycle": True}},
        },
    )
    assert held.status_code == 201, held.text
    added = me.put(f"{groups_url(world['acme'])}/{held.json()['id']}/members/{account}")
    assert added.status_code == 204, added.text
    # And they see it as a user of their organization.
    assert me.get(f"/api/v1/users/{account}").json()["service_account"] is True
