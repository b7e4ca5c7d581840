"""Events of changes reach the subscribers that want them, once each, signed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from standardwebhooks import WebhookVerificationError
from starlette.testclient import TestClient

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db.types import utcnow
from ostiary.runtime import Runtime
from ostiary.webhooks.catalogue import EVENT_TYPES
from tests.helpers import make_context, make_user, root_id
from tests.webhooks.conftest import deliver, subscribe
from tests.webhooks.receiver import Receiver


def test_the_user_lifecycle_arrives_once_each_signed(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", number="CRM-1001")
    sub = subscribe(client, acme["id"], hook.url)
    user = make_user(client, "jane", first_name="Jane", context_ids=[acme["id"]])
    client.patch(f"/api/v1/users/{user['id']}", json={"first_name": "Janet"})
    client.post(f"/api/v1/users/{user['id']}/activate")
    client.post(f"/api/v1/users/{user['id']}/deactivate")
    sales = make_context(client, acme["id"], "account", "Sales")
    client.put(f"/api/v1/users/{user['id']}/contexts/{sales['id']}")
    client.delete(f"/api/v1/users/{user['id']}/contexts/{sales['id']}")
    assert deliver(runtime).delivered == 7
    client.post(f"/api/v1/users/{user['id']}/delete")

    report = deliver(runtime)
    assert report.delivered == 1 and report.failed == 0 and report.retrying == 0
    payloads = [r.verified(sub["secret"]) for r in hook.received]
    assert [p["type"] for p in payloads] == [
        "user.created",
        "user.joined_context",
        "user.updated",
        "user.activated",
        "user.deactivated",
        "user.joined_context",
        "user.left_context",
        "user.deleted",
    ]
    assert len({r.id for r in hook.received}) == len(hook.received)
    created = payloads[0]["data"]
    assert created["target_type"] == "user" and created["target_id"] == user["id"]
    assert created["actor"]["name"] == "admin" and created["actor"]["via"] == "api"
    assert created["object"]["id"] == user["id"]
    assert created["object"]["first_name"] == "Jane"
    assert created["changes"]["email"] == "jane@example.com"
    joined = payloads[1]["data"]
    assert joined["context_id"] == acme["id"] and joined["context_number"] == "CRM-1001"
    updated = payloads[2]["data"]
    assert updated["changes"] == {"first_name": ["Jane", "Janet"]}
    assert payloads[4]["data"]["changes"] == {"status": ["active", "inactive"]}
    assert payloads[6]["data"]["context_id"] == sales["id"]
    deleted = payloads[7]["data"]
    assert deleted["object"]["status"] == "deleted" and deleted["object"]["first_name"] is None
    # Delivered once each: another run sends nothing.
    assert deliver(runtime).handled == 0
    assert len(hook.received) == 8


def test_a_tampered_body_or_another_secret_fails_verification(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    sub = subscribe(client, root_id(client), hook.url)
    make_user(client, "someone")
    deliver(runtime)
    (got,) = hook.received
    got.verified(sub["secret"])
    tampered = got.body.replace(b"someone", b"somebody")
    from standardwebhooks import Webhook

    with pytest.raises(WebhookVerificationError):
        Webhook(sub["secret"]).verify(tampered, got.headers)
    other = subscribe(client, root_id(client), hook.url + "/other")
    with pytest.raises(WebhookVerificationError):
        got.verified(other["secret"])
    assert got.headers["content-type"] == "application/json"


def test_a_rolled_back_change_sends_nothing(
    client: TestClient, runtime: Runtime, hook: Receiver, actor: Actor
) -> None:
    subscribe(client, root_id(client), hook.url)
    user = make_user(client, "kept")
    deliver(runtime)
    hook.received.clear()

    class Abort(Exception):
        pass

    with runtime.sessions() as session, pytest.raises(Abort), session.atomic():
        AuditLog(session).record(actor, "user.updated", target_type="user", target_id=user["id"])
        session.flush()
        raise Abort
    # A refused change is no event either.
    client.post(f"/api/v1/users/{user['id']}/deactivate")  # a draft cannot be deactivated
    assert deliver(runtime).handled == 0
    assert hook.received == []


def test_a_subscription_of_one_account_gets_none_of_another_accounts_events(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme")
    globex = make_context(client, root, "account", "Globex")
    acme_sub = subscribe(client, acme["id"], hook.url + "/acme")
    root_sub = subscribe(client, root, hook.url + "/root")
    make_user(client, "acme-user", context_ids=[acme["id"]])
    other = make_user(client, "globex-user", context_ids=[globex["id"]])
    client.post(f"/api/v1/users/{other['id']}/activate")
    client.post(f"/api/v1/users/{other['id']}/deactivate")
    client.post(f"/api/v1/users/{other['id']}/delete")
    make_user(client, "nowhere")  # in no context: only the root hears of it
    deliver(runtime)
    to_acme = [r.verified(acme_sub["secret"]) for r in hook.received if r.path == "/hook/acme"]
    assert {p["data"]["target_id"] for p in to_acme} == {
        p["data"]["target_id"] for p in to_acme if p["data"]["object"]["username"] == "acme-user"
    }
    assert [p["type"] for p in to_acme] == ["user.created", "user.joined_context"]
    to_root = [r.verified(root_sub["secret"]) for r in hook.received if r.path == "/hook/root"]
    assert len(to_root) == 2 + 2 + 3 + 1
    # The deletion ended the membership, and still reached the root through Globex's place.
    assert "user.deleted" in [p["type"] for p in to_root]


def test_a_deleted_member_is_announced_to_the_account_they_were_in(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    acme = make_context(client, root_id(client), "account", "Acme")
    sub = subscribe(client, acme["id"], hook.url, events=["user.deleted"])
    user = make_user(client, "leaver", context_ids=[acme["id"]])
    for action in ("activate", "deactivate", "delete"):
        client.post(f"/api/v1/users/{user['id']}/{action}")
    deliver(runtime)
    assert [r.verified(sub["secret"])["type"] for r in hook.received] == ["user.deleted"]


def test_only_the_event_types_asked_for_arrive(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    sub = subscribe(client, root_id(client), hook.url, events=["user.activated"])
    user = make_user(client, "picky")
    client.post(f"/api/v1/users/{user['id']}/activate")
    deliver(runtime)
    assert [r.verified(sub["secret"])["type"] for r in hook.received] == ["user.activated"]


def test_every_catalogued_action_becomes_its_event_type(
    client: TestClient, runtime: Runtime, hook: Receiver, actor: Actor
) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", number="A-7")
    sub = subscribe(client, root, hook.url)
    with runtime.sessions() as session, session.atomic():
        log = AuditLog(session)
        for action in EVENT_TYPES:
            log.record(
                actor,
                action,
                target_type="thing",
                target_id=str(uuid.uuid4()),
                context_id=uuid.UUID(acme["id"]),
                changes={"action": action},
            )
        log.record(actor, "user.password_set", target_type="user", target_id=str(uuid.uuid4()))
    deliver(runtime)
    payloads = [r.verified(sub["secret"]) for r in hook.received]
    assert {p["data"]["changes"]["action"]: p["type"] for p in payloads} == EVENT_TYPES
    assert all(p["data"]["context_number"] == "A-7" for p in payloads)
    assert all("object" not in p["data"] for p in payloads)  # no renderer for "thing"


def test_a_receiver_that_fails_gets_retries_with_backoff_under_the_same_id(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    sub = subscribe(client, root_id(client), hook.url)
    hook.answers = [500, 503]
    make_user(client, "retried")
    start = utcnow()
    assert deliver(runtime, start).retrying == 1
    (delivery,) = client.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()["items"]
    assert delivery["state"] == "pending" and delivery["last_status"] == 500
    first_wait = (
        _parse(delivery["next_attempt_at"]) - _parse(delivery["last_attempt_at"])
    ).total_seconds()
    assert 15 <= first_wait <= 30  # 30 s, jittered
    assert deliver(runtime, start + timedelta(seconds=5)).handled == 0  # not yet
    assert deliver(runtime, start + timedelta(seconds=31)).retrying == 1
    (delivery,) = client.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()["items"]
    second_wait = (
        _parse(delivery["next_attempt_at"]) - _parse(delivery["last_attempt_at"])
    ).total_seconds()
    assert 30 <= second_wait <= 60  # doubled
    assert deliver(runtime, start + timedelta(seconds=100)).delivered == 1
    assert len(hook.received) == 3
    assert len({r.id for r in hook.received}) == 1  # the same webhook-id every time
    assert hook.received[0].id == delivery["id"]
    assert len({r.body for r in hook.received}) == 1
    for attempt in hook.received:
        attempt.verified(sub["secret"])  # signed afresh, with its own timestamp
    (delivery,) = client.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()["items"]
    assert delivery["state"] == "delivered" and delivery["attempts"] == 3


def test_retries_go_on_for_more_than_a_day_then_the_delivery_fails(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    sub = subscribe(client, root_id(client), hook.url)
    hook.answers = [500] * 1000
    make_user(client, "unlucky")
    moment = utcnow()
    attempts = 0
    while True:
        report = deliver(runtime, moment)
        attempts += report.handled
        if report.failed:
            break
        assert moment - utcnow() < timedelta(hours=27)
        moment += timedelta(minutes=61)
    assert moment - utcnow() >= timedelta(hours=24)
    (delivery,) = client.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()["items"]
    assert delivery["state"] == "failed" and delivery["attempts"] == attempts
    events = client.get("/api/v1/audit-events", params={"action": "webhook.delivery_failed"})
    assert events.json()["items"][0]["changes"]["delivery_id"] == delivery["id"]


def test_settled_deliveries_are_purged_after_the_retention_period(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    sub = subscribe(client, root_id(client), hook.url)
    make_user(client, "fleeting")
    deliver(runtime)
    url = f"/api/v1/webhooks/{sub['id']}/deliveries"
    assert len(client.get(url).json()["items"]) == 1
    deliver(runtime, utcnow() + timedelta(days=29))
    assert len(client.get(url).json()["items"]) == 1
    deliver(runtime, utcnow() + timedelta(days=31))
    assert client.get(url).json()["items"] == []


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_users_imported_in_bulk_are_announced_like_any_other(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    """The CSV import writes in Core, beside the ORM: its events must not be lost."""
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", key="acme", number="CRM-7")
    sub = subscribe(client, acme["id"], hook.url)
    csv = "username,email,first_name,context\nada,ada@example.com,Ada,acme\n"
    response = client.post(
        "/api/v1/users/import", content=csv, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert deliver(runtime).delivered == 2
    payloads = [r.verified(sub["secret"]) for r in hook.received]
    assert [p["type"] for p in payloads] == ["user.created", "user.joined_context"]
    assert payloads[0]["data"]["object"]["username"] == "ada"
    assert payloads[1]["data"]["context_number"] == "CRM-7"
    # A second run changes nothing, and so announces nothing.
    again = client.post("/api/v1/users/import", content=csv, headers={"Content-Type": "text/csv"})
    assert again.status_code == 200 and deliver(runtime).handled == 0
