"""A contact person (account administrator) trying to reach beyond their rights."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from tests.api.test_authorization import api_user, grant
from tests.api.test_groups import EP, groups_url
from tests.helpers import assert_problem, make_context, make_user, root_id

ADMIN_RIGHTS = {
    "access": True,
    "contexts.read": True,
    "users.read": True,
    "users.manage": True,
    "users.lifecycle": True,
    "groups.manage": True,
    "policies.manage": True,
    "audit.read": True,
    "API IP Allow": "127.0.0.0/8",
}


@pytest.fixture
def world(client: TestClient, anonymous: TestClient, runtime: Runtime) -> dict[str, Any]:
    assert client.post("/api/v1/modules", json=EP).status_code == 201
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", key="acme")
    sub = make_context(client, acme["id"], "account", "Acme Sub", key="acme-sub")
    other = make_context(client, root, "account", "Other", key="other")
    api_user(client, "contact", [acme["id"]], domain="ENTERPRISE")
    grant(runtime, "contact", "acme", ADMIN_RIGHTS, group="Contacts")
    # The contact person holds epAccess and sim.read in the portal, not sim.modify.
    contact_id = client.get("/api/v1/users", params={"username": "contact"}).json()["items"][0][
        "id"
    ]
    portal = client.post(
        groups_url(acme["id"]),
        json={"name": "Portal", "rights": {"ep": {"epAccess": True, "sim.read": True}}},
    ).json()
    client.put(f"{groups_url(acme['id'])}/{portal['id']}/members/{contact_id}")
    staff = client.post(
        groups_url(acme["id"]),
        json={"name": "Strong", "rights": {"ep": {"epAccess": True, "sim.modify": True}}},
    ).json()
    worker = make_user(client, "worker", status="active", context_ids=[sub["id"]])
    stranger = make_user(client, "stranger", status="active", context_ids=[other["id"]])
    anonymous.auth = ("contact", "pw of tcatnoc 123")
    return {
        "root": root,
        "acme": acme["id"],
        "sub": sub["id"],
        "other": other["id"],
        "contact": contact_id,
        "strong": staff["id"],
        "worker": worker["id"],
        "stranger": stranger["id"],
        "as_contact": anonymous,
    }


def refusals(client: TestClient, action: str) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/audit-events", params={"action": action}).json()["items"])


def test_can_grant_what_they_hold(client: TestClient, world: dict[str, Any]) -> None:
    me: TestClient = world["as_contact"]
    created = me.post(
        groups_url(world["sub"]),
        json={"name": "Sub readers", "rights": {"ep": {"epAccess": True, "sim.read": True}}},
    )
    assert created.status_code == 201, created.text
    url = f"{groups_url(world['sub'])}/{created.json()['id']}"
    assert me.put(f"{url}/members/{world['worker']}").status_code == 204
    assert (
        me.put(
            f"{url}/rights", json={"rights": {"ep": {"epAccess": True, "sim.read": False}}}
        ).status_code
        == 200
    )


def test_cannot_grant_more_than_they_hold(client: TestClient, world: dict[str, Any]) -> None:
    me: TestClient = world["as_contact"]
    before = client.get(groups_url(world["sub"])).json()
    body = assert_problem(
        me.post(
            groups_url(world["sub"]),
            json={"name": "Sneaky", "rights": {"ep": {"epAccess": True, "sim.modify": True}}},
        ),
        403,
        "escalation-refused",
        "rights",
    )
    assert "ep.sim.modify" in body["detail"]
    assert client.get(groups_url(world["sub"])).json() == before
    assert_problem(
        me.post(
            groups_url(world["sub"]),
            json={
                "name": "Wider API",
                "rights": {"ostiary": {"access": True, "API IP Allow": "0.0.0.0/0"}},
            },
        ),
        403,
        "escalation-refused",
    )
    narrower = me.post(
        groups_url(world["sub"]),
        json={
            "name": "Narrower API",
            "rights": {"ostiary": {"access": True, "API IP Allow": "127.0.0.1/32"}},
        },
    )
    assert narrower.status_code == 201
    assert_problem(
        me.post(
            groups_url(world["sub"]),
            json={"name": "Domains", "rights": {"ostiary": {"domains.manage": True}}},
        ),
        403,
        "escalation-refused",
    )
    events = refusals(client, "access.escalation_refused")
    assert len(events) == 3 and all(e["actor"] == "contact" for e in events)
    assert "ep.sim.modify" in events[-1]["changes"]["refused"]


def test_cannot_raise_their_own_rights(client: TestClient, world: dict[str, Any]) -> None:
    me: TestClient = world["as_contact"]
    strong = f"{groups_url(world['acme'])}/{world['strong']}"
    assert_problem(me.put(f"{strong}/members/{world['contact']}"), 403, "escalation-refused")
    own_groups = me.get(groups_url(world["acme"])).json()
    portal = next(g for g in own_groups if g["name"] == "Portal")
    assert_problem(
        me.put(
            f"{groups_url(world['acme'])}/{portal['id']}/rights",
            json={"rights": {"ep": {"epAccess": True, "sim.read": True, "sim.modify": True}}},
        ),
        403,
        "escalation-refused",
    )
    contacts = next(g for g in own_groups if g["name"] == "Contacts")
    assert_problem(
        me.put(
            f"{groups_url(world['acme'])}/{contacts['id']}/rights",
            json={
                "rights": {
                    "ostiary": {**{k: v for k, v in ADMIN_RIGHTS.items()}, "modules.manage": True}
                }
            },
        ),
        403,
        "escalation-refused",
    )
    rights = client.get(
        f"/api/v1/users/{world['contact']}/effective-rights",
        params={"context": world["acme"], "module": "ep"},
    ).json()["rights"]
    assert rights["sim.modify"] is False
    assert len(refusals(client, "access.escalation_refused")) == 3


def test_cannot_reach_another_account_by_id(client: TestClient, world: dict[str, Any]) -> None:
    me: TestClient = world["as_contact"]
    assert_problem(me.get(f"/api/v1/users/{world['stranger']}"), 404, "not-found")
    assert_problem(me.get(groups_url(world["other"])), 404, "not-found")
    assert_problem(me.post(groups_url(world["other"]), json={"name": "Mine now"}), 404, "not-found")
    assert_problem(
        me.get(
            f"/api/v1/users/{world['stranger']}/effective-rights",
            params={"context": world["other"], "module": "ep"},
        ),
        404,
        "not-found",
    )
    assert client.get(groups_url(world["other"])).json() == []
    targets = {e["target_id"] for e in refusals(client, "access.out_of_reach")}
    assert {world["stranger"], world["other"]} <= targets


def test_cannot_move_a_user_out_of_their_subtree(client: TestClient, world: dict[str, Any]) -> None:
    me: TestClient = world["as_contact"]
    assert_problem(
        me.put(f"/api/v1/users/{world['worker']}/contexts/{world['other']}"),
        422,
        "rule-violation",
        "context_id",
    )
    assert [
        c["context_key"] for c in client.get(f"/api/v1/users/{world['worker']}/contexts").json()
    ] == ["acme-sub"]
    assert world["other"] in {e["target_id"] for e in refusals(client, "access.out_of_reach")}


def test_cannot_edit_a_root_group_or_their_own_policy(
    client: TestClient, world: dict[str, Any]
) -> None:
    me: TestClient = world["as_contact"]
    admins = client.get(groups_url(world["root"])).json()[0]
    url = f"{groups_url(world['root'])}/{admins['id']}"
    assert_problem(
        me.put(f"{url}/rights", json={"rights": {"ostiary": {"access": True}}}), 404, "not-found"
    )
    assert_problem(me.put(f"{url}/members/{world['contact']}"), 404, "not-found")
    assert_problem(me.delete(f"/api/v1/contexts/{world['acme']}/policy"), 404, "not-found")
    assert (
        me.put(
            f"/api/v1/contexts/{world['sub']}/policy", json={"rights": {"ep": {"epAccess": True}}}
        ).status_code
        == 200
    )
    assert client.get(groups_url(world["root"])).json()[0] == admins
    assert len(refusals(client, "access.out_of_reach")) >= 3
