# ruff: noqa: F811  (the fixture world is imported, and named by the tests that use it)
"""``POST /api/v1/users/import``: reach, escalation, small and large files."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.test_escalation import world  # noqa: F401  (the contact person's world)
from tests.helpers import assert_problem

CSV = {"content-type": "text/csv"}
URL = "/api/v1/users/import"


def post(client: TestClient, text: str, **params: Any) -> Any:
    return client.post(URL, content=text.encode(), headers=CSV, params=params)


def usernames(client: TestClient, prefix: str) -> list[str]:
    items = client.get("/api/v1/users", params={"username": prefix, "limit": 200}).json()["items"]
    return [u["username"] for u in items]


def test_small_file_is_answered_with_its_report(client: TestClient, world: dict[str, Any]) -> None:
    text = "username,email,context,status\nimp1,imp1@example.com,acme-sub,active\n"
    report = post(client, text)
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["created"], body["finished"], body["rows"]) == (1, True, 1)
    again = post(client, text).json()
    assert (again["created"], again["unchanged"]) == (0, 1)


def test_bad_file_is_problem_json_naming_the_line(
    client: TestClient, world: dict[str, Any]
) -> None:
    text = "username,email,context\nok1,ok1@example.com,acme\nbad,not-an-address,acme\n"
    body = assert_problem(post(client, text), 422, "invalid-file", "email")
    assert body["line"] == 3
    assert body["errors"][0]["line"] == 3 and body["errors"][0]["field"] == "email"
    assert usernames(client, "ok1") == []
    assert_problem(client.post(URL, json={"username": "x"}), 415, "unsupported-media-type")
    anonymous = TestClient(client.app, client=("127.0.0.1", 50000))
    assert_problem(anonymous.post(URL, json={"username": "x"}), 401, "unauthenticated")


def test_contact_person_reaches_only_their_subtree(
    client: TestClient,
    world: dict[str, Any],
) -> None:
    me: TestClient = world["as_contact"]
    inside = post(me, "username,context\nnew1,acme-sub\n")
    assert inside.status_code == 200, inside.text
    outside = post(me, "username,context\nnew2,other\n")
    unknown = post(me, "username,context\nnew2,no-such-context\n")
    body = assert_problem(outside, 422, "invalid-file", "context")
    assert body["errors"][0]["message"] == "no context with key or number 'other'"
    assert (
        unknown.json()["errors"][0]["message"] == "no context with key or number 'no-such-context'"
    )
    # A user outside the subtree cannot be taken over by naming them.
    hijack = post(me, "username,email,context\nstranger,mine@example.com,acme-sub\n")
    assert assert_problem(hijack, 422, "invalid-file", "username")["errors"][0]["message"] == (
        "username 'stranger' is already taken"
    )
    stranger = client.get(f"/api/v1/users/{world['stranger']}").json()
    assert stranger["email"] == "stranger@example.com"
    assert usernames(client, "new2") == []


def test_no_group_stronger_than_the_caller(client: TestClient, world: dict[str, Any]) -> None:
    me: TestClient = world["as_contact"]
    refused = post(me, "username,context,groups\nclimber,acme,Strong\n")
    body = assert_problem(refused, 422, "invalid-file", "groups")
    assert "you cannot grant rights you do not hold yourself: ep.sim.modify" in body["detail"]
    assert usernames(client, "climber") == []
    events = client.get(
        "/api/v1/audit-events", params={"action": "access.escalation_refused"}
    ).json()["items"]
    assert events and events[0]["actor"] == "contact"
    allowed = post(me, "username,context,groups\nreader,acme,Portal\n")
    assert allowed.status_code == 200, allowed.text


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"import_sync_rows": 3}


def test_large_file_runs_as_a_job_with_progress(client: TestClient, world: dict[str, Any]) -> None:
    text = "username,context\n" + "".join(f"job{i:02},acme\n" for i in range(12))
    started = post(client, text)
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    for _ in range(200):
        job = client.get(location).json()
        if job["status"] != "running":
            break
        time.sleep(0.05)
    assert (job["status"], job["rows_done"], job["created"]) == ("done", 12, 12)
    assert len(usernames(client, "job")) == 12
    # Someone else's job is not theirs to read.
    me: TestClient = world["as_contact"]
    assert_problem(me.get(location), 404, "not-found")
