"""HTTP Basic for API users, the ostiary module rights and API IP Allow."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.testclient import TestClient

from ostiary.access.catalogue import OSTIARY_MODULE
from ostiary.access.groups import GroupService
from ostiary.access.rightsets import RightSets
from ostiary.audit.actor import Actor
from ostiary.contexts.models import Context
from ostiary.runtime import Runtime
from ostiary.users.models import User
from tests.apps import app_for
from tests.helpers import assert_problem, make_context, make_user, root_id

ALL_ADMIN = {
    "access": True,
    "contexts.read": True,
    "contexts.manage": True,
    "users.read": True,
    "users.manage": True,
    "users.lifecycle": True,
    "audit.read": True,
}


def grant(
    runtime: Runtime,
    username: str,
    context_key: str,
    rights: Mapping[str, object],
    group: str = "Granted",
) -> None:
    """Give ``username`` the ostiary ``rights`` in a context through a group."""
    with runtime.sessions() as session:
        actor = Actor("test", "cli")
        from sqlalchemy import select

        context = session.scalars(select(Context).where(Context.key == context_key)).one()
        user = session.scalars(select(User).where(User.username == username)).one()
        problems: list = []
        values = RightSets(session).resolve(
            {OSTIARY_MODULE: rights}, place="rights", problems=problems
        )
        assert not problems
        groups = GroupService(session, actor)
        with session.atomic():
            created, _ = groups.put(context, group, role=None, rights=values)
            groups.set_members_of_user(user.id, context, {created.id})


def grant_admin(client: TestClient, username: str) -> None:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    grant(runtime, username, "root", {**ALL_ADMIN, "API IP Allow": "127.0.0.1/32"})


def api_user(client: TestClient, username: str, contexts: list[str], domain: str = "CSP") -> None:
    make_user(
        client,
        username,
        domain=domain,
        status="active",
        context_ids=contexts,
        password=f"pw of {username[::-1]} 123",
    )


def test_no_credentials_or_wrong_ones_are_401(anonymous: TestClient) -> None:
    body = assert_problem(anonymous.get("/api/v1/users"), 401, "unauthenticated")
    assert "Basic" in anonymous.get("/api/v1/users").headers["www-authenticate"]
    assert body["detail"]
    wrong = anonymous.get("/api/v1/users", auth=("admin", "not the password"))
    unknown = anonymous.get("/api/v1/users", auth=("nobody", "not the password"))
    assert_problem(wrong, 401, "unauthenticated")
    assert_problem(unknown, 401, "unauthenticated")
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_user_without_ostiary_rights_is_forbidden(
    client: TestClient, anonymous: TestClient
) -> None:
    api_user(client, "plain", [root_id(client)])
    anonymous.auth = ("plain", "pw of nialp 123")
    assert_problem(anonymous.get("/api/v1/users"), 403, "forbidden")


def test_api_ip_allow_absent_refuses_any_address(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    api_user(client, "noip", [root_id(client)])
    grant(runtime, "noip", "root", ALL_ADMIN)
    anonymous.auth = ("noip", "pw of pion 123")
    assert_problem(anonymous.get("/api/v1/users"), 403, "forbidden")


def test_api_ip_allow_is_checked_against_the_client_address(
    runtime: Runtime, client: TestClient
) -> None:

    api_user(client, "ranged", [root_id(client)])
    grant(runtime, "ranged", "root", {**ALL_ADMIN, "API IP Allow": "10.1.0.0/16, 2001:db8::/32"})
    auth = ("ranged", "pw of degnar 123")
    for address, status in [
        ("10.1.2.3", 200),
        ("10.2.0.1", 403),
        ("2001:db8::5", 200),
        ("127.0.0.1", 403),
    ]:
        with TestClient(app_for(runtime), client=(address, 1234)) as caller:
            assert caller.get("/api/v1/users", auth=auth).status_code == status, address

    grant(runtime, "ranged", "root", {**ALL_ADMIN, "API IP Allow": "0.0.0.0/0"})
    with TestClient(app_for(runtime), client=("203.0.113.9", 1234)) as caller:
        assert caller.get("/api/v1/users", auth=auth).status_code == 200


def test_contact_person_sees_only_their_subtree(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", key="acme")
    acme_sub = make_context(client, acme["id"], "account", "Acme Sub")
    other = make_context(client, root, "account", "Other", key="other")
    api_user(client, "contact", [acme["id"]], domain="ENTERPRISE")
    grant(runtime, "contact", "acme", {**ALL_ADMIN, "API IP Allow": "127.0.0.1/32"})
    insider = make_user(client, "insider", context_ids=[acme_sub["id"]])
    outsider = make_user(client, "outsider", context_ids=[other["id"]])
    anonymous.auth = ("contact", "pw of tcatnoc 123")

    names = [c["name"] for c in anonymous.get("/api/v1/contexts").json()["items"]]
    assert names == ["Acme", "Acme Sub"]
    assert_problem(anonymous.get(f"/api/v1/contexts/{other['id']}"), 404, "not-found")
    assert_problem(anonymous.get(f"/api/v1/contexts/{root}"), 404, "not-found")
    users = [u["username"] for u in anonymous.get("/api/v1/users").json()["items"]]
    assert users == ["contact", "insider"]
    assert anonymous.get(f"/api/v1/users/{insider['id']}").status_code == 200
    assert_problem(anonymous.get(f"/api/v1/users/{outsider['id']}"), 404, "not-found")
    assert_problem(anonymous.post(f"/api/v1/users/{outsider['id']}/activate"), 404, "not-found")
    assert_problem(
        anonymous.put(f"/api/v1/users/{insider['id']}/contexts/{other['id']}"),
        422,
        "rule-violation",
        "context_id",
    )
    assert_problem(
        anonymous.post("/api/v1/users", json={"username": "nohome", "domain": "ENTERPRISE"}),
        422,
        "rule-violation",
        "context_ids",
    )
    created = anonymous.post(
        "/api/v1/users",
        json={"username": "hired", "domain": "ENTERPRISE", "context_ids": [acme["id"]]},
    )
    assert created.status_code == 201
    assert_problem(
        anonymous.post(f"/api/v1/contexts/{acme_sub['id']}/move", json={"parent_id": other["id"]}),
        422,
        "rule-violation",
        "parent_id",
    )
    seen = anonymous.get("/api/v1/audit-events", params={"limit": 500}).json()["items"]
    assert seen and {e["context_id"] for e in seen} <= {acme["id"], acme_sub["id"]}

    # Every reach beyond the subtree was refused and audited, though nothing else was written.
    refused = client.get("/api/v1/audit-events", params={"action": "access.out_of_reach"}).json()[
        "items"
    ]
    assert {e["target_id"] for e in refused} >= {other["id"], root, outsider["id"]}
    assert all(e["actor"] == "contact" for e in refused)
