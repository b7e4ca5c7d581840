"""Decisions for policy enforcement points: /api/v1/authz/check and the AuthZEN API."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from tests.api.test_groups import EP, groups_url
from tests.helpers import assert_problem, make_context, make_user, root_id


@pytest.fixture
def world(client: TestClient) -> dict[str, Any]:
    assert client.post("/api/v1/modules", json=EP).status_code == 201
    billing = {
        "key": "bm",
        "name": "Billing",
        "context_types": ["root"],
        "access_right": "bmModuleAccess",
        "acls": [{"key": "bmModuleAccess"}, {"key": "invoice.read"}],
    }
    assert client.post("/api/v1/modules", json=billing).status_code == 201
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", key="acme")
    alice = make_user(client, "alice", status="active", context_ids=[acme["id"]])
    group = client.post(
        groups_url(acme["id"]),
        json={
            "name": "Portal",
            "rights": {"ep": {"epAccess": True, "sim.read": True, "API IP Allow": "10.0.0.0/8"}},
        },
    ).json()
    client.put(f"{groups_url(acme['id'])}/{group['id']}/members/{alice['id']}")
    return {"acme": acme["id"], "alice": alice["id"], "root": root}


def check(client: TestClient, *checks: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post("/api/v1/authz/check", json={"checks": list(checks)})
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def test_bulk_check(client: TestClient, world: dict[str, Any]) -> None:
    results = check(
        client,
        {"user": "alice", "context": "acme", "module": "ep", "right": "sim.read"},
        {"user": world["alice"], "context": world["acme"], "module": "ep", "right": "sim.modify"},
        {"user": "alice", "context": "acme", "module": "ep", "right": "API IP Allow"},
        {
            "user": "alice",
            "context": "acme",
            "module": "ep",
            "right": "sim.read",
            "address": "10.2.3.4",
        },
        {
            "user": "alice",
            "context": "acme",
            "module": "ep",
            "right": "sim.read",
            "address": "192.0.2.1",
        },
        {"user": "alice", "context": "acme", "module": "bm", "right": "invoice.read"},
        {"user": "nobody", "context": "acme", "module": "ep", "right": "sim.read"},
        {"user": "alice", "context": "nowhere", "module": "ep", "right": "sim.read"},
        {"user": "alice", "context": "acme", "module": "ghost", "right": "x"},
        {"user": "alice", "context": "acme", "module": "ep", "right": "no.such.right"},
    )
    assert [r["allowed"] for r in results] == [
        True,
        False,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
    ]
    assert results[2]["value"] == "10.0.0.0/8"
    assert results[4]["reason"] == "API IP Allow does not admit the address"
    assert results[5]["reason"] == "the module is not available in account contexts"
    assert results[6]["reason"] == "no such user"


def test_inactive_users_are_denied(client: TestClient, world: dict[str, Any]) -> None:
    client.post(f"/api/v1/users/{world['alice']}/deactivate")
    result = check(
        client, {"user": "alice", "context": "acme", "module": "ep", "right": "sim.read"}
    )[0]
    assert result == {"allowed": False, "value": None, "reason": "the user is inactive"}


def test_check_needs_the_authz_right_and_valid_input(
    client: TestClient, anonymous: TestClient, world: dict[str, Any]
) -> None:
    assert_problem(
        anonymous.post("/api/v1/authz/check", json={"checks": []}), 401, "unauthenticated"
    )
    assert_problem(
        client.post("/api/v1/authz/check", json={"checks": []}), 422, "invalid-input", "checks"
    )
    assert_problem(
        client.post("/api/v1/authz/check", json={"checks": [{"user": "alice"}]}),
        422,
        "invalid-input",
    )


def test_authzen_evaluation_and_evaluations(client: TestClient, world: dict[str, Any]) -> None:
    metadata = client.get("/.well-known/authzen-configuration").json()
    assert metadata["access_evaluation_endpoint"].endswith("/access/v1/evaluation")

    one = client.post(
        "/access/v1/evaluation",
        json={
            "subject": {"type": "user", "id": "alice"},
            "resource": {"type": "ep", "id": "acme"},
            "action": {"name": "sim.read"},
            "context": {"ip": "10.9.9.9"},
        },
    )
    assert one.status_code == 200 and one.json()["decision"] is True
    many = client.post(
        "/access/v1/evaluations",
        json={
            "subject": {"type": "user", "id": "alice"},
            "resource": {"type": "ep", "id": "acme"},
            "evaluations": [
                {"action": {"name": "sim.read"}},
                {"action": {"name": "sim.modify"}},
                {"action": {"name": "sim.read"}, "context": {"ip": "192.0.2.1"}},
                {"subject": {"type": "group", "id": "x"}, "action": {"name": "sim.read"}},
            ],
        },
    )
    assert [e["decision"] for e in many.json()["evaluations"]] == [True, False, False, False]


def test_warm_answers_follow_changes_to_whom_and_where_a_check_names(
    client: TestClient, world: dict[str, Any]
) -> None:
    """Checks name users and contexts by username and key; what those names resolve to is
    reused between checks, and must follow every change at once."""
    asked = {"user": "alice", "context": "acme", "module": "ep", "right": "sim.read"}
    assert check(client, asked)[0]["allowed"] is True
    assert check(client, asked)[0]["allowed"] is True  # warm

    client.post(f"/api/v1/users/{world['alice']}/deactivate")
    assert check(client, asked)[0] == {
        "allowed": False,
        "value": None,
        "reason": "the user is inactive",
    }
    client.post(f"/api/v1/users/{world['alice']}/activate")
    assert check(client, asked)[0]["allowed"] is True

    # The key moves to another context: the name now means that one, where alice has nothing.
    other = make_context(client, world["root"], "account", "Other", key="other")
    assert client.patch(f"/api/v1/contexts/{world['acme']}", json={"key": "acme-old"}).is_success
    assert check(client, asked)[0]["reason"] == "no such context"
    assert client.patch(f"/api/v1/contexts/{other['id']}", json={"key": "acme"}).is_success
    assert check(client, asked)[0]["allowed"] is False
    assert check(client, {**asked, "context": "acme-old"})[0]["allowed"] is True

    # Deleted (anonymized) and the username taken by somebody new, without alice's group.
    client.post(f"/api/v1/users/{world['alice']}/deactivate")
    assert client.post(f"/api/v1/users/{world['alice']}/delete").is_success
    make_user(client, "alice", status="active", context_ids=[world["acme"]])
    answer = check(client, {**asked, "context": "acme-old"})[0]
    assert answer["allowed"] is False and answer["reason"] != "the user is deleted"


def test_a_bulk_of_warm_and_cold_checks_answers_each_in_order(
    client: TestClient, world: dict[str, Any]
) -> None:
    """The first checks of a request are answered from the caches where it runs, the rest
    after the first one that needs computing; neither may reorder or change an answer."""
    rights = ["sim.read", "sim.modify", "epAccess", "API IP Allow"]
    warm = {"user": "alice", "context": "acme", "module": "ep"}
    check(client, *({**warm, "right": r} for r in rights))  # now cached
    root = {"user": "admin", "context": "root", "module": "bm", "right": "invoice.read"}
    asked = [
        *({**warm, "right": r} for r in rights),
        root,  # never asked before: computed
        {**warm, "right": "sim.read", "address": "192.0.2.1"},
        {**warm, "context": "nowhere", "right": "sim.read"},
    ]
    answers = check(client, *asked)
    assert [a["allowed"] for a in answers] == [True, False, True, True, False, False, False]
    assert answers[3]["value"] == "10.0.0.0/8"
    assert answers[5]["reason"] == "API IP Allow does not admit the address"
    assert answers[6]["reason"] == "no such context"
    assert check(client, *asked) == answers  # all warm this time


def test_a_warm_check_reads_nothing_and_sees_changes(
    client: TestClient, world: dict[str, Any], runtime: Runtime
) -> None:
    """A warm check reads no statement: the change feed vouches for the caller's
    credentials, their standing and the question's counters (``ostiary.db.changes``). A change
    to the caller's rights, made meanwhile, is seen by the very next check."""
    from tests.db.test_changes import warm

    asked = {"user": "alice", "context": "acme", "module": "ep", "right": "sim.read"}
    warm(client, runtime)

    # The administrators' group loses authz.check; the next check is refused.
    groups = f"/api/v1/contexts/{world['root']}/groups"
    admins = next(g for g in client.get(groups).json() if g["name"] == "Administrators")
    rights = admins["rights"]
    rights["ostiary"]["authz.check"] = False
    assert client.put(f"{groups}/{admins['id']}/rights", json={"rights": rights}).is_success
    refused = client.post("/api/v1/authz/check", json={"checks": [asked]})
    assert refused.status_code == 403
