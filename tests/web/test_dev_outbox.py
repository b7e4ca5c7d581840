"""The development outbox: where messages land when nothing is configured to send them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from ostiary.messages.services import Messages
from ostiary.runtime import Runtime
from tests.apps import app_for

CODE = {"code": "482913", "minutes": 5}


def send(runtime: Runtime, to: str = "dev@example.com") -> str:
    with runtime.sessions() as session, session.atomic():
        message = Messages(session, runtime).send("second-factor-code", to, CODE)
    return str(message.id)


def wait_for(client: TestClient, message_id: str, state: str = "sent") -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for item in client.get("/dev/outbox.json").json()["items"]:
            if item["id"] == message_id and item["state"] == state:
                return dict(item)
        time.sleep(0.05)
    raise AssertionError(f"message {message_id} did not become {state}")


def test_the_worker_delivers_to_the_outbox_at_once_and_the_page_shows_it(
    client: TestClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="ostiary.messages")
    message_id = send(runtime)
    # Woken by the commit, long before its poll interval.
    item = wait_for(client, message_id)
    assert item["to"] == "dev@example.com" and item["subject"] == "Your sign-in code: 482913"
    assert "482913" in item["text"] and "<strong" in item["html"]
    assert any(
        message_id in r.getMessage() and "Your sign-in code: 482913" in r.getMessage()
        for r in caplog.records
    )
    page = client.get("/dev/outbox")
    assert page.status_code == 200 and "Your sign-in code: 482913" in page.text
    assert page.headers["cache-control"] == "no-store"
    one = client.get(f"/dev/outbox/{message_id}")
    assert one.status_code == 200 and "482913" in one.text and "srcdoc=" in one.text
    sms = send(runtime, "+41446681800")
    assert (
        wait_for(client, sms)["text"] == "482913 is your sign-in code. It is valid for 5 minutes."
    )


def test_only_from_this_machine(runtime: Runtime) -> None:
    with TestClient(app_for(runtime), client=("192.0.2.7", 4000)) as remote:
        assert remote.get("/dev/outbox").status_code == 404
        assert remote.get("/dev/outbox.json").status_code == 404


@pytest.fixture
def configured(runtime: Runtime) -> Iterator[Runtime]:
    runtime.settings.smtp_url = SecretStr("smtp://127.0.0.1:1")
    runtime.settings.sms_gateway_url = "http://127.0.0.1:1/sms"
    runtime.settings.message_worker = False
    yield runtime


def test_absent_when_every_channel_has_its_transport(configured: Runtime) -> None:
    with TestClient(app_for(configured), client=("127.0.0.1", 4000)) as local:
        assert local.get("/dev/outbox").status_code == 404
        assert local.get("/dev/outbox.json").status_code == 404
        # With only e-mail configured, SMS still lands in the outbox.
        configured.settings.sms_gateway_url = None
        assert local.get("/dev/outbox").status_code == 200
        message_id = send(configured, "+41446681800")
        assert wait_for(local, message_id, "pending")["channel"] == "sms"


def test_absent_when_switched_off(runtime: Runtime) -> None:
    runtime.settings.dev_outbox = False
    with TestClient(app_for(runtime), client=("127.0.0.1", 4000)) as local:
        assert local.get("/dev/outbox").status_code == 404
