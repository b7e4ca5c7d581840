"""SMS over real HTTP to a local gateway, which checks the body and the authentication."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from ostiary.messages.delivery import (
    ConfigurationError,
    Delivery,
    HttpSmsGateway,
    SmsTransport,
)
from ostiary.messages.models import Message, MessageState
from ostiary.messages.outbox import MessageWorker
from ostiary.messages.purposes import Channel
from ostiary.messages.services import Messages
from ostiary.runtime import Runtime
from tests.messages.servers import GatewayLog, basic, sms_gateway
from tests.messages.support import CODE, Clock, make_user

PHONE = "+41446681800"


def queue_code(runtime: Runtime, language: str = "en") -> Message:
    with runtime.sessions() as session, session.atomic():
        user = make_user(runtime, session, "sam", phone=PHONE, language=language)
        return Messages(session, runtime).send("second-factor-code", user, CODE, channel="sms")


def state_of(runtime: Runtime, message: Message) -> Message:
    with runtime.sessions() as session:
        return session.scalars(select(Message).where(Message.id == message.id)).one()


def test_basic_authentication_and_the_default_body(runtime: Runtime) -> None:
    log = GatewayLog(expect_auth=basic("ostiary", "gateway secret"))
    with sms_gateway(log) as url:
        runtime.settings.sms_gateway_url = url
        runtime.settings.sms_gateway_username = "ostiary"
        runtime.settings.sms_gateway_password = SecretStr("gateway secret")
        message = queue_code(runtime)
        report = MessageWorker(runtime).run_once()
    assert report.sent == 1
    [request] = log.requests
    assert request["path"] == "/sms"
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["idempotency-key"] == str(message.id)
    assert request["body"] == {
        "to": PHONE,
        "text": "482913 is your sign-in code. It is valid for 5 minutes.",
    }
    assert re.search(r"\b\d{6}\b", request["body"]["text"]).group(0) == "482913"  # type: ignore[union-attr]
    row = state_of(runtime, message)
    assert row.state == MessageState.SENT and row.transport == "sms-gateway"
    assert row.recipient == "+41*******00" and row.text is None


def test_a_header_and_a_body_template(runtime: Runtime) -> None:
    log = GatewayLog(expect_auth="Bearer k3y")
    body = {
        "messages": [{"destination": "${to}", "content": "${text}", "from": "${sender}"}],
        "reference": "ostiary-${message_id}",
        "flash": False,
    }
    with sms_gateway(log) as url:
        runtime.settings.sms_gateway_url = url
        runtime.settings.sms_gateway_header = SecretStr("Authorization: Bearer k3y")
        runtime.settings.sms_gateway_body = json.dumps(body)
        runtime.settings.sms_sender = "Ostiary"
        message = queue_code(runtime, language="de")
        assert MessageWorker(runtime).run_once().sent == 1
    [request] = log.requests
    assert request["body"] == {
        "messages": [
            {
                "destination": PHONE,
                # JSON-escaped as a whole: umlauts and all.
                "content": "482913 ist Ihr Anmeldecode. Er ist 5 Minuten gültig.",
                "from": "Ostiary",
            }
        ],
        "reference": f"ostiary-{message.id}",
        "flash": False,
    }


def test_server_errors_are_retried_and_refusals_are_final(runtime: Runtime) -> None:
    log = GatewayLog(answers=[503, 400])
    with sms_gateway(log) as url:
        runtime.settings.sms_gateway_url = url
        first = queue_code(runtime)
        clock = Clock()
        worker = MessageWorker(runtime, clock=clock)
        assert worker.run_once().retrying == 1
        assert "answered 503" in (state_of(runtime, first).last_error or "")
        clock.advance(runtime.settings.message_retry_seconds)
        assert worker.run_once().failed == 1
        row = state_of(runtime, first)
        assert row.state == MessageState.FAILED and row.attempts == 2
        assert (row.last_error or "").startswith("SMS gateway answered 400")


def test_wrong_credentials_are_retried(runtime: Runtime) -> None:
    log = GatewayLog(expect_auth=basic("ostiary", "right"))
    with sms_gateway(log) as url:
        runtime.settings.sms_gateway_url = url
        runtime.settings.sms_gateway_username = "ostiary"
        runtime.settings.sms_gateway_password = SecretStr("wrong")
        message = queue_code(runtime)
        assert MessageWorker(runtime).run_once().retrying == 1
    assert state_of(runtime, message).state == MessageState.PENDING


def test_another_gateway_plugs_in(runtime: Runtime) -> None:
    class Pigeon:
        def __init__(self) -> None:
            self.carried: list[tuple[str, str, str]] = []

        def send_sms(self, to: str, text: str, *, message_id: str) -> None:
            self.carried.append((to, text, message_id))

    pigeon = Pigeon()
    message = queue_code(runtime)
    worker = MessageWorker(runtime, Delivery({Channel.SMS: SmsTransport(pigeon)}))
    assert worker.run_once().sent == 1
    assert pigeon.carried == [
        (PHONE, "482913 is your sign-in code. It is valid for 5 minutes.", str(message.id))
    ]


@pytest.mark.parametrize(
    ("url", "settings", "message"),
    [
        ("ftp://gw", {}, "http(s) URL"),
        ("http://gw", {"body": "{not json"}, "not JSON"),
        ("http://gw", {"body": '{"to": "${phone}"}'}, "unknown placeholder 'phone'"),
        ("http://gw", {"header": "no colon"}, "'Name: value'"),
    ],
)
def test_gateway_settings_are_checked(url: str, settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        HttpSmsGateway(url, **settings)  # type: ignore[arg-type]
