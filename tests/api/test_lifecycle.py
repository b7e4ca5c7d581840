"""draft -> active <-> inactive -> deleted, and discard for drafts."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import MetaData, select, text
from starlette.testclient import TestClient

from ostiary.db.types import utcnow
from ostiary.messages.models import Message, MessageState
from ostiary.messages.services import Messages
from ostiary.runtime import Runtime
from ostiary.users.models import User
from tests.helpers import assert_problem, make_context, make_user, root_id
from tests.webhooks.conftest import deliver, subscribe
from tests.webhooks.receiver import receiver


def act(client: TestClient, user_id: str, action: str):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/users/{user_id}/{action}")


def test_draft_can_be_activated_deactivated_and_reactivated(client: TestClient) -> None:
    user = make_user(client, "life")
    assert act(client, user["id"], "activate").json()["status"] == "active"
    assert act(client, user["id"], "deactivate").json()["status"] == "inactive"
    assert act(client, user["id"], "activate").json()["status"] == "active"


def test_transitions_outside_the_lifecycle_are_refused(client: TestClient) -> None:
    user = make_user(client, "strict")
    body = assert_problem(act(client, user["id"], "delete"), 409, "invalid-transition", "status")
    assert "allowed: activate, discard" in body["detail"]
    assert_problem(act(client, user["id"], "deactivate"), 409, "invalid-transition")
    act(client, user["id"], "activate")
    assert_problem(act(client, user["id"], "discard"), 409, "invalid-transition")
    assert_problem(act(client, user["id"], "delete"), 409, "invalid-transition")
    assert client.get(f"/api/v1/users/{user['id']}").json()["status"] == "active"


def test_discarding_a_draft_removes_it(client: TestClient) -> None:
    user = make_user(client, "gone")
    assert act(client, user["id"], "discard").status_code == 204
    assert_problem(client.get(f"/api/v1/users/{user['id']}"), 404, "not-found")
    events = client.get("/api/v1/audit-events", params={"target": user["id"]}).json()["items"]
    assert [e["action"] for e in events] == ["user.discarded", "user.created"]


def test_deleting_anonymizes_for_good(client: TestClient, runtime: Runtime) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme")
    user = make_user(
        client,
        "Jane.Personal",
        email="jane.personal@acme.example",
        phone="+41446681811",
        first_name="Janette",
        last_name="Personalia",
        language="de",
        context_ids=[acme["id"]],
        password="a long and secret password",
    )
    client.patch(f"/api/v1/users/{user['id']}", json={"last_name": "Personalissima"})
    act(client, user["id"], "activate")
    act(client, user["id"], "deactivate")

    # A message still waiting in the outbox for her, with her name and address in it.
    with runtime.sessions() as session, session.atomic():
        person = session.get(User, uuid.UUID(user["id"]))
        assert person is not None
        pending = Messages(session, runtime).send("password-changed", person, channel="email")
        pending.due_at = utcnow() + timedelta(hours=1)  # out of the worker's reach for now
        pending_id = pending.id

    deleted = act(client, user["id"], "delete").json()
    assert deleted["status"] == "deleted" and deleted["id"] == user["id"]
    assert deleted["username"] == f"deleted-{user['id'].replace('-', '')}"
    for field in ("email", "phone", "first_name", "last_name", "language"):
        assert deleted[field] is None
    assert deleted["has_password"] is False and deleted["deleted_at"] is not None
    assert client.get(f"/api/v1/users/{user['id']}/contexts").json() == []

    # No trace of the person anywhere in the database, audit trail included.
    personal = ["jane.personal", "janette", "personalia", "personalissima", "41446681811"]
    found = _rows_mentioning(runtime, personal)
    assert found == []
    with runtime.sessions() as session:
        message = session.get(Message, pending_id)
        assert message is not None and message.state == MessageState.FAILED  # never sent
    # The trail itself stays, pointing at the same id.
    actions = [
        e["action"]
        for e in client.get("/api/v1/audit-events", params={"target": user["id"]}).json()["items"]
    ]
    assert actions[0] == "user.deleted" and "user.created" in actions

    for action in ("activate", "deactivate", "delete", "discard"):
        assert_problem(act(client, user["id"], action), 409, "invalid-transition")
    assert_problem(
        client.patch(f"/api/v1/users/{user['id']}", json={"first_name": "Back"}),
        409,
        "invalid-transition",
    )
    # The address is free for someone new.
    make_user(client, "jane2", email="jane.personal@acme.example")


@pytest.mark.parametrize(
    "settings_overrides", [{"webhooks_worker": False, "webhooks_allow_loopback": True}]
)
def test_deleting_leaves_no_trace_in_webhook_payloads(client: TestClient, runtime: Runtime) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme")
    with receiver() as crm, receiver() as failing:
        failing.answers = [500] * 100
        delivered = subscribe(client, root, crm.url)
        subscribe(client, acme["id"], failing.url, events=["user.updated"])
        user = make_user(
            client,
            "Jane.Hooked",
            email="jane.hooked@acme.example",
            phone="+41446681822",
            first_name="Janina",
            last_name="Hookedfield",
            context_ids=[acme["id"]],
        )
        client.patch(f"/api/v1/users/{user['id']}", json={"last_name": "Hookedberg"})
        act(client, user["id"], "activate")
        act(client, user["id"], "deactivate")
        deliver(runtime)  # all to the CRM; the update stays pending for the failing receiver
        assert "hookedfield" in b" ".join(r.body for r in crm.received).decode().lower()

        act(client, user["id"], "delete")
        personal = ["jane.hooked", "janina", "hookedfield", "hookedberg", "41446681822"]
        assert _rows_mentioning(runtime, personal) == []

        # What was still pending goes out reduced to ids.
        failing.answers = []
        crm.received.clear()
        failing.received.clear()
        deliver(runtime, utcnow() + timedelta(hours=2))
        (update,) = failing.received
        assert update.json["type"] == "user.updated"
        assert update.json["data"]["target_id"] == user["id"]
        assert not any(n in update.body.decode().lower() for n in personal)
        assert [r.json["type"] for r in crm.received] == ["user.deleted"]
        deliveries = client.get(f"/api/v1/webhooks/{delivered['id']}/deliveries").json()["items"]
        erased = {d["event_type"]: d["payload_erased"] for d in deliveries}
        assert erased == {
            "user.deleted": False,  # about nobody any more
            "user.updated": False,  # reduced to ids, for the receiver still waiting for it
            "user.deactivated": True,
            "user.activated": True,
            "user.joined_context": True,
            "user.created": True,
        }
        assert_problem(
            client.post(
                f"/api/v1/webhooks/{delivered['id']}/deliveries/{deliveries[-1]['id']}/resend"
            ),
            409,
            "invalid-transition",
            "delivery_id",
        )


def _rows_mentioning(runtime: Runtime, needles: list[str]) -> list[tuple[str, str]]:
    meta = MetaData()
    meta.reflect(runtime.engine)
    hits = []
    with runtime.engine.connect() as connection:
        for table in meta.sorted_tables:
            for row in connection.execute(select(table)):
                dump = " ".join(str(v) for v in row).lower()
                hits += [(table.name, n) for n in needles if n in dump]
        connection.execute(text("SELECT 1"))
    return hits


def test_deactivated_user_can_no_longer_call_the_api(
    client: TestClient, anonymous: TestClient
) -> None:
    root = root_id(client)
    user = make_user(
        client,
        "staffer",
        domain="CSP",
        status="active",
        context_ids=[root],
        password="pw of the staff 123",
    )
    from tests.api.test_authorization import grant_admin

    grant_admin(client, user["username"])
    anonymous.auth = ("staffer", "pw of the staff 123")
    assert anonymous.get("/api/v1/contexts").status_code == 200
    act(client, user["id"], "deactivate")
    assert_problem(anonymous.get("/api/v1/contexts"), 401, "unauthenticated")
    act(client, user["id"], "activate")
    assert anonymous.get("/api/v1/contexts").status_code == 200


@pytest.mark.parametrize(
    "settings_overrides", [{"webhooks_worker": False, "webhooks_allow_loopback": True}]
)
def test_deleting_erases_the_invitation_events_that_keep_the_address(
    client: TestClient, runtime: Runtime
) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme")
    address = "jane.invited@acme.example"
    with receiver() as crm, receiver() as failing:
        failing.answers = [500] * 100
        delivered = subscribe(client, root, crm.url, events=["user.invited", "user.deleted"])
        waiting = subscribe(client, acme["id"], failing.url, events=["user.invited"])
        user = make_user(client, "jane.invited", email=address, first_name="Janine")
        invited = client.post(
            "/api/v1/invitations",
            json={"context_id": acme["id"], "email": address, "as_administrator": False},
        )
        assert invited.status_code == 201, invited.text
        deliver(runtime)  # to the CRM; the failing receiver's stays pending
        assert address in crm.received[0].body.decode()
        assert act(client, user["id"], "activate").status_code == 200
        assert act(client, user["id"], "deactivate").status_code == 200
        deleted = act(client, user["id"], "delete")
        assert deleted.status_code == 200, deleted.text

        # Nothing stored for webhooks keeps the address any more.
        with runtime.engine.connect() as connection:
            stored = " ".join(
                str(row) for row in connection.execute(text("SELECT payload FROM webhook_events"))
            )
        assert address not in stored and "janine" not in stored.lower()
        # The invitation's event is kept with ids only while a receiver still waits for it.
        sent = client.get(f"/api/v1/webhooks/{delivered['id']}/deliveries").json()["items"]
        assert [(d["event_type"], d["state"]) for d in sent] == [
            ("user.deleted", "pending"),
            ("user.invited", "delivered"),
        ]
        [pending] = client.get(f"/api/v1/webhooks/{waiting['id']}/deliveries").json()["items"]
        assert pending["state"] == "pending" and pending["payload_erased"] is False

        # What was still to be delivered goes out with ids only; the deletion says the id.
        failing.answers = []
        crm.received.clear()
        failing.received.clear()
        deliver(runtime, utcnow() + timedelta(hours=2))
        (late,) = failing.received
        assert late.json["type"] == "user.invited" and late.json["data"]["erased"] is True
        assert late.json["data"]["target_id"] == invited.json()["id"]
        assert address not in late.body.decode()
        (deletion,) = crm.received
        assert deletion.json["data"]["target_id"] == user["id"]
        assert address not in deletion.body.decode() and "janine" not in deletion.body.decode()
