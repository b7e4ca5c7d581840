"""The code travels for real: SMS over HTTP to a local gateway, e-mail over SMTP to an
in-process server; the test reads it there and signs in. And a bearer token's session must be
recent to change a factor through the self-service API."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from starlette.testclient import TestClient

from ostiary.authn.models import BrowserSession
from ostiary.db.types import utcnow
from ostiary.messages.outbox import MessageWorker
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.authn.support import (
    enter,
    ostiary_bearer,
    password,
    redirected_code,
    set_user,
    start,
)
from tests.conftest import LOCAL_CLIENT
from tests.helpers import assert_problem
from tests.messages.servers import GatewayLog, sms_gateway, smtp_server
from tests.protocols.oidc.conftest import make_client, make_world
from tests.protocols.oidc.test_attacks import exchange


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver", "message_worker": False}


@pytest.fixture
def browser(runtime: Runtime) -> Any:
    make_world(runtime)
    make_client(runtime, "spa")
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def _amr(tokens: dict[str, Any]) -> list[str]:
    payload = tokens["id_token"].split(".")[1]
    return list(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["amr"])


def test_code_by_sms_through_the_gateway(browser: TestClient, runtime: Runtime) -> None:
    runtime.settings.two_factor = "sms"
    set_user(runtime, phone="+41446681800", language="de")
    log = GatewayLog()
    with sms_gateway(log) as url:
        runtime.settings.sms_gateway_url = url
        fields = start(browser)
        password(browser, fields)
        assert MessageWorker(runtime).run_once().sent == 1
    [request] = log.requests
    assert request["body"]["to"] == "+41446681800"
    assert "ist Ihr Anmeldecode" in request["body"]["text"]
    code = re.search(r"\b(\d{6})\b", request["body"]["text"]).group(1)  # type: ignore[union-attr]
    done = enter(browser, fields, code)
    assert _amr(exchange(browser, redirected_code(done)).json()) == ["pwd", "sms", "mfa"]  # type: ignore[arg-type]


def test_code_by_e_mail_over_smtp(browser: TestClient, runtime: Runtime) -> None:
    runtime.settings.two_factor = "email"
    with smtp_server() as (port, mailbox):
        runtime.settings.smtp_url = SecretStr(f"smtp://127.0.0.1:{port}")
        fields = start(browser)
        password(browser, fields)
        assert MessageWorker(runtime).run_once().sent == 1
    [mail] = mailbox.received
    assert mail.rcpt_tos == ["jeremy@city.example"]
    code = re.search(r"\b(\d{6})\b", str(mail.message["Subject"])).group(1)  # type: ignore[union-attr]
    assert redirected_code(enter(browser, fields, code))


def test_no_phone_number_is_said_plainly(browser: TestClient, runtime: Runtime) -> None:
    runtime.settings.two_factor = "sms"
    fields = start(browser)
    page = browser.get(password(browser, fields).headers["location"]).text
    assert 'id="no-phone"' in page


def test_a_bearer_token_needs_a_recent_sign_in_to_change_a_factor(
    browser: TestClient, runtime: Runtime
) -> None:
    bearer = ostiary_bearer(runtime, browser)
    assert browser.get("/api/v1/me/second-factors", headers=bearer).status_code == 200
    assert browser.post("/api/v1/me/authenticator-app", headers=bearer).status_code == 201
    with runtime.sessions() as session, session.atomic():
        session.execute(update(BrowserSession).values(auth_time=utcnow() - timedelta(hours=1)))
    stale = browser.post("/api/v1/me/authenticator-app", headers=bearer)
    assert_problem(stale, 403, "reauthentication-required")
    # Reading still works.
    assert browser.get("/api/v1/me/second-factors", headers=bearer).status_code == 200
    with runtime.sessions() as session:
        assert session.scalars(select(BrowserSession)).one().amr == ["pwd"]
