"""Deleting a user erases what invitations, registrations and join requests kept of them: the
rows stay for the record, the API and the audit trail show nothing personal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from tests.api import test_registrations as registrations
from tests.registrations.support import OVERRIDES, browser, person, register
from tests.web import test_invitations as invitations

koko = registrations.koko
MAX = "max@gmail.example"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(OVERRIDES)


def _everything(client: TestClient, url: str) -> list[dict[str, Any]]:
    answer = client.get(url, params={"limit": 200})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_deleting_a_person_erases_their_invitations_and_requests(
    client: TestClient, anonymous: TestClient, runtime: Runtime, koko: dict[str, Any]
) -> None:
    # An organization Max registered with the address, rejected by the back office.
    done = register(
        runtime, browser(runtime), organization="Max GmbH", **person(MAX, first_name="Max")
    )
    assert 'id="registration-submitted"' in done.text
    [registration] = registrations._pending(client)
    rejected = client.post(
        f"/api/v1/registrations/{registration['id']}/reject", json={"reason": "Unknown"}
    )
    assert rejected.status_code == 200, rejected.text
    # An invitation Max accepted, making his account, and one still waiting for him.
    accepted = invitations.invite(client, koko["other"], MAX, message="Hello Max")
    web = invitations.new_browser(runtime)
    made = invitations.register(
        web, invitations.outbox_link(runtime, MAX), first_name="Max", last_name="Moe"
    )
    assert made.status_code == 303, made.text
    waiting = invitations.invite(client, koko["id"], MAX, message="Join us, Max")
    # A request to join, waiting for Kim.
    max_ = TestClient(client.app)
    max_.auth = (MAX, invitations.PASSWORD)
    asked = max_.post("/api/v1/me/join-requests", json={"organization": "K-1"})
    assert asked.status_code == 201, asked.text
    user_id = asked.json()["user_id"]

    for action in ("deactivate", "delete"):
        answer = client.post(f"/api/v1/users/{user_id}/{action}")
        assert answer.status_code == 200, answer.text

    listed = {i["id"]: i for i in _everything(client, "/api/v1/invitations")}
    assert listed[accepted["id"]]["state"] == "accepted"
    # Nobody is left to accept it: withdrawn, its link used up.
    assert listed[waiting["id"]]["state"] == "revoked"
    for invitation_id in (accepted["id"], waiting["id"]):
        assert listed[invitation_id]["email"] == "(erased)"
        assert listed[invitation_id]["message"] is None
    requests = {
        r["id"]: r
        for url in ("/api/v1/registrations", "/api/v1/join-requests")
        for r in _everything(client, url)
    }
    assert requests[registration["id"]]["state"] == "rejected"
    assert requests[asked.json()["id"]]["state"] == "withdrawn"
    for request_id in (registration["id"], asked.json()["id"]):
        row = requests[request_id]
        assert row["email"] == "(erased)"
        assert (row["first_name"], row["last_name"], row["phone"]) == (None, None, None)
    # Kim no longer sees it waiting.
    anonymous.auth = ("kim", "pw of mik 123")
    waiting_for_kim = anonymous.get("/api/v1/join-requests", params={"state": "pending"})
    assert waiting_for_kim.json()["items"] == []

    events = _everything(client, "/api/v1/audit-events")
    [deleted] = [e for e in events if e["action"] == "user.deleted"]
    assert deleted["changes"]["erased"] == {"invitations": 2, "registrations": 2}
    carriers = {user_id, accepted["id"], waiting["id"], registration["id"], asked.json()["id"]}
    shown = json.dumps(
        [listed, requests, [e for e in events if e["target_id"] in carriers]]
    ).replace("Max GmbH", "")
    assert "gmail.example" not in shown and "Max" not in shown
