"""Every change through the API writes one audit event in its transaction; failures write none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from tests.helpers import assert_problem, make_context, make_user, root_id


def events(client: TestClient, **params: object) -> list[dict]:  # type: ignore[type-arg]
    response = client.get("/api/v1/audit-events", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_each_change_writes_exactly_one_event(client: TestClient) -> None:
    before = len(events(client))
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme")
    user = make_user(
        client, "audited", context_ids=[acme["id"]], password="a secret phrase of note"
    )
    client.patch(f"/api/v1/users/{user['id']}", json={"first_name": "Aud"})
    client.post(f"/api/v1/users/{user['id']}/activate")
    new = events(client)[: len(events(client)) - before]
    actions = [e["action"] for e in reversed(new)]
    # The user and their membership are written in one transaction, in no promised order.
    assert actions[0] == "context.created" and actions[3:] == ["user.updated", "user.activated"]
    assert sorted(actions[1:3]) == ["membership.added", "user.created"]
    admin_id = client.get("/api/v1/users", params={"username": "admin"}).json()["items"][0]["id"]
    for event in new:
        assert event["actor"] == "admin" and event["actor_id"] == admin_id
        assert event["via"] == "api" and event["client_address"] == "127.0.0.1"
    created = next(e for e in new if e["action"] == "user.created")
    assert created["changes"]["password"] == "(changed)"
    assert "a secret phrase of note" not in str(new)
    assert next(e for e in new if e["action"] == "user.updated")["changes"] == {
        "first_name": [None, "Aud"]
    }
    assert next(e for e in new if e["action"] == "membership.added")["context_id"] == acme["id"]


def test_failed_changes_write_nothing(client: TestClient) -> None:
    make_user(client, "taken")
    before = events(client)
    assert_problem(
        client.post("/api/v1/users", json={"username": "taken", "domain": "CSP"}),
        409,
        "already-exists",
    )
    assert_problem(
        client.post(
            "/api/v1/users",
            json={"username": "rooted", "domain": "ENTERPRISE", "context_ids": [root_id(client)]},
        ),
        422,
        "rule-violation",
        "context_id",
    )
    # The user of the refused request was not left behind half-made either.
    assert client.get("/api/v1/users", params={"username": "rooted"}).json()["items"] == []
    assert events(client) == before


def test_unchanged_update_writes_no_event(client: TestClient) -> None:
    user = make_user(client, "same", first_name="Same")
    before = events(client)
    assert (
        client.patch(f"/api/v1/users/{user['id']}", json={"first_name": "Same"}).status_code == 200
    )
    assert events(client) == before


def test_filters(client: TestClient) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme")
    user = make_user(client, "filtered", context_ids=[acme["id"]])
    assert {e["action"] for e in events(client, target=user["id"])} == {
        "user.created",
        "membership.added",
    }
    assert [e["action"] for e in events(client, context=acme["id"])] == [
        "membership.added",
        "context.created",
    ]
    assert all(e["action"] == "user.created" for e in events(client, action="user.created"))
    admin_id = client.get("/api/v1/users", params={"username": "admin"}).json()["items"][0]["id"]
    assert len(events(client, actor=admin_id)) == 3
    future = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert events(client, since=future) == []
    assert len(events(client, until=future)) == len(events(client))


def test_pagination_newest_first(client: TestClient) -> None:
    for i in range(5):
        make_user(client, f"pager{i}")
    first = client.get("/api/v1/audit-events", params={"action": "user.created", "limit": 3}).json()
    second = client.get(
        "/api/v1/audit-events",
        params={"action": "user.created", "limit": 3, "cursor": first["next_cursor"]},
    ).json()
    targets = [e["changes"]["username"] for e in first["items"] + second["items"]]
    assert targets[:5] == [f"pager{i}" for i in reversed(range(5))]
