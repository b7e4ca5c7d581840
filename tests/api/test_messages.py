"""``/api/v1/messages``: the outbox's state, without contents, addresses masked."""

from __future__ import annotations

import uuid

import pytest
from starlette.testclient import TestClient

from ostiary.contexts.models import Context
from ostiary.messages.outbox import MessageWorker
from ostiary.messages.services import Messages
from ostiary.runtime import Runtime
from tests.api.test_authorization import api_user, grant
from tests.helpers import assert_problem, make_context, root_id

URL = "/api/v1/messages"
CODE = {"code": "482913", "minutes": 5}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False}


def test_the_outbox_shows_state_but_no_content(client: TestClient, runtime: Runtime) -> None:
    acme = make_context(client, root_id(client), "account", "Acme", key="acme")
    with runtime.sessions() as session, session.atomic():
        messages = Messages(session, runtime)
        context = session.get(Context, uuid.UUID(acme["id"]))
        first = messages.send("second-factor-code", "jane.doe@example.com", CODE, context=context)
        messages.send("second-factor-code", "+41446681800", CODE)
    pending = client.get(URL, params={"state": "pending"}).json()["items"]
    assert [m["recipient"] for m in pending] == ["+41*******00", "j***@example.com"]
    assert all("482913" not in str(m) for m in pending)
    assert set(pending[0]) >= {"purpose", "state", "attempts", "last_error", "due_at"}
    assert "text" not in pending[0] and "subject" not in pending[0]

    MessageWorker(runtime).run_once()
    sent = client.get(f"{URL}/{first.id}").json()
    assert sent["state"] == "sent" and sent["transport"] == "outbox" and sent["attempts"] == 1
    assert sent["due_at"] is None and sent["context_id"] == acme["id"]
    page = client.get(URL, params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = client.get(URL, params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert rest["items"][0]["id"] == str(first.id)
    assert client.get(URL, params={"channel": "sms"}).json()["items"][0]["channel"] == "sms"

    # Below the root: the messages about contexts in reach only.
    api_user(client, "acmeadmin", [acme["id"]])
    grant(
        runtime,
        "acmeadmin",
        "acme",
        {"access": True, "messages.manage": True, "API IP Allow": "127.0.0.1/32"},
    )
    client.auth = ("acmeadmin", "pw of nimdaemca 123")
    assert [m["id"] for m in client.get(URL).json()["items"]] == [str(first.id)]
    assert_problem(client.get(f"{URL}/{pending[0]['id']}"), 404, "not-found")
