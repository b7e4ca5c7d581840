"""Codes by SMS and e-mail at the second factor: every rule of document 003's "2FA" section,
and the attacks on them."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.authn.factors.codes import CodeService, Verdict, tries_key
from ostiary.authn.factors.models import FactorCounter, SecondFactorCode
from ostiary.authn.flow import LoginState
from ostiary.authn.models import BrowserSession, LoginFlow
from ostiary.db.types import utcnow
from ostiary.protocols.oidc.authorization import AuthorizationRequest
from ostiary.runtime import Runtime
from ostiary.users.models import User
from tests.apps import app_for
from tests.authn.support import (
    USERNAME,
    enter,
    last_code,
    messages_for,
    password,
    redirected_code,
    set_user,
    start,
)
from tests.conftest import LOCAL_CLIENT
from tests.protocols.oidc.conftest import make_client, make_world
from tests.protocols.oidc.test_attacks import exchange


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "issuer": "http://testserver",
        "two_factor": "email",
        "message_worker": False,
        "two_factor_resend_seconds": 0,
    }


@pytest.fixture
def browser(runtime: Runtime) -> Any:
    make_world(runtime)
    make_client(runtime, "spa")
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _user(runtime: Runtime) -> User:
    with runtime.sessions() as session:
        return session.scalars(select(User).where(User.username == USERNAME)).one()


def test_password_then_e_mail_code_signs_in_with_mfa(browser: TestClient, runtime: Runtime) -> None:
    fields = start(browser)
    after_password = password(browser, fields)
    assert after_password.status_code == 303
    assert after_password.headers["location"] == f"/login/second-factor?flow={fields['flow']}"
    # No session yet, and the first login is not recorded before the second factor.
    assert "ostiary_session" not in browser.cookies
    assert _user(runtime).first_login_at is None
    page = browser.get(after_password.headers["location"])
    assert page.status_code == 200 and "j•••••@city.example" in page.text
    [message] = messages_for(runtime)
    assert message.channel == "email" and message.recipient == "jeremy@city.example"
    code = last_code(runtime)
    assert len(code) == 6
    done = enter(browser, fields, code)
    authorization_code = redirected_code(done)
    assert authorization_code, done.text
    tokens = exchange(browser, authorization_code).json()
    claims = _claims(tokens["id_token"])
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == "urn:ostiary:acr:mfa"
    assert _user(runtime).first_login_at is not None
    # Only a hash of the code is kept.
    with runtime.sessions() as session:
        row = session.scalars(select(SecondFactorCode)).one()
        assert code not in row.code_hash and row.used_at is not None


def test_a_code_works_once(browser: TestClient, runtime: Runtime) -> None:
    fields = start(browser)
    password(browser, fields)
    code = last_code(runtime)
    assert redirected_code(enter(browser, fields, code))
    # The flow is finished; a new flow does not take the old code.
    again = start(browser, prompt="login")
    password(browser, again)
    with runtime.sessions() as session, session.atomic():
        # Even were it still the flow's latest, a used code is refused.
        session.execute(update(SecondFactorCode).values(replaced_at=None))
    reused = enter(browser, again, code)
    assert reused.status_code == 401 and redirected_code(reused) is None


def test_a_code_from_another_login_attempt_is_refused(
    browser: TestClient, runtime: Runtime
) -> None:
    first = start(browser)
    password(browser, first)
    other = TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False)
    with other:
        second = start(other)
        password(other, second)
        code_of_second = last_code(runtime)
        refused = enter(browser, first, code_of_second)
        assert refused.status_code == 401 and redirected_code(refused) is None
        assert redirected_code(enter(other, second, code_of_second))


def test_a_new_code_makes_the_old_one_useless(browser: TestClient, runtime: Runtime) -> None:
    fields = start(browser)
    password(browser, fields)
    old = last_code(runtime)
    resent = browser.post("/login/second-factor/send", data=fields)
    assert resent.status_code == 303
    new = last_code(runtime)
    assert len(messages_for(runtime)) == 2
    if old != new:
        assert enter(browser, fields, old).status_code == 401
    assert redirected_code(enter(browser, fields, new))


def test_an_expired_code_is_refused(browser: TestClient, runtime: Runtime) -> None:
    fields = start(browser)
    password(browser, fields)
    code = last_code(runtime)
    with runtime.sessions() as session, session.atomic():
        session.execute(update(SecondFactorCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    late = enter(browser, fields, code)
    assert late.status_code == 401 and "The code has expired" in late.text


def test_too_many_tries_per_code(browser: TestClient, runtime: Runtime) -> None:
    fields = start(browser)
    password(browser, fields)
    code = last_code(runtime)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(runtime.settings.two_factor_code_tries):
        assert "The code is not correct." in enter(browser, fields, wrong).text
    spent = enter(browser, fields, code)
    assert spent.status_code == 401 and "entered wrongly too often" in spent.text
    browser.post("/login/second-factor/send", data=fields)
    assert redirected_code(enter(browser, fields, last_code(runtime)))


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "issuer": "http://testserver",
            "two_factor": "email",
            "message_worker": False,
            "two_factor_resend_seconds": 0,
            "two_factor_user_tries": 3,
        }
    ],
)
def test_too_many_tries_per_user_across_codes(browser: TestClient, runtime: Runtime) -> None:
    fields = start(browser)
    password(browser, fields)
    enter(browser, fields, "000000")
    enter(browser, fields, "000001")
    browser.post("/login/second-factor/send", data=fields)
    enter(browser, fields, "000002")
    locked = enter(browser, fields, last_code(runtime))
    assert locked.status_code == 401 and "Too many wrong entries" in locked.text
    with runtime.sessions() as session:
        failures = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "second_factor.failed")
        ).all()
        assert [e.changes["reason"] for e in failures][-1] == "locked"
        # The limit lasts for the window only: no lockout for good.
        session.execute(update(FactorCounter).values(window_start=utcnow() - timedelta(hours=1)))
        session.commit()
    assert redirected_code(enter(browser, fields, last_code(runtime)))


def _flow_for(runtime: Runtime) -> tuple[Any, Any]:
    with runtime.sessions() as session, session.atomic():
        user = session.scalars(select(User).where(User.username == USERNAME)).one()
        state = LoginState(
            request=AuthorizationRequest(client_id="spa", redirect_uri="x", scope=["openid"])
        )
        flow = LoginFlow(
            csrf_token="c",
            state=state.model_dump(mode="json"),
            expires_at=utcnow() + timedelta(minutes=5),
        )
        session.add(flow)
        session.flush()
        CodeService(session, runtime).send(user, flow.id, ("email",), Actor.system())  # type: ignore[arg-type]
        return user.id, flow.id


THREADS = 12  # within the connection pool of one process


def test_parallel_guessing_is_counted_exactly(runtime: Runtime) -> None:
    make_world(runtime)
    runtime.settings.two_factor = "email"
    user_id, flow_id = _flow_for(runtime)
    code = last_code(runtime)
    wrong = "000000" if code != "000000" else "111111"
    verdicts: list[Verdict] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def guess() -> None:
        with runtime.sessions() as session:
            barrier.wait()
            with session.atomic():
                user = session.get(User, user_id)
                verdict = CodeService(session, runtime).verify(user, flow_id, wrong, Actor.system())  # type: ignore[arg-type]
            with lock:
                verdicts.append(verdict)

    threads = [threading.Thread(target=guess) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    tries = runtime.settings.two_factor_code_tries
    user_tries = runtime.settings.two_factor_user_tries
    assert len(verdicts) == THREADS
    assert verdicts.count(Verdict.WRONG) == tries
    assert verdicts.count(Verdict.SPENT) == user_tries - tries
    assert verdicts.count(Verdict.LOCKED) == THREADS - user_tries
    with runtime.sessions() as session:
        assert session.scalars(select(SecondFactorCode.attempts)).one() == tries
        assert session.get(FactorCounter, tries_key(user_id)).count == user_tries  # type: ignore[union-attr]
        user = session.get(User, user_id)
        # The right code no longer helps: the code is spent and the user out of tries.
        with session.atomic():
            assert (
                CodeService(session, runtime).verify(user, flow_id, code, Actor.system())
                is Verdict.LOCKED
            )  # type: ignore[arg-type]


def test_admins_disabled_setting_skips_the_code(browser: TestClient, runtime: Runtime) -> None:
    set_user(runtime, two_factor="disabled")
    fields = start(browser)
    assert redirected_code(password(browser, fields))
    assert messages_for(runtime) == []


@pytest.mark.parametrize(
    ("language", "subject"),
    [("de-CH", "Ihr Anmeldecode"), ("fr", "Your sign-in code"), (None, "Your sign-in code")],
)
def test_the_message_speaks_the_users_language(
    browser: TestClient, runtime: Runtime, language: str | None, subject: str
) -> None:
    set_user(runtime, language=language)
    password(browser, start(browser))
    [message] = messages_for(runtime)
    assert message.subject and message.subject.startswith(subject)


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "issuer": "http://testserver",
            "two_factor": "email",
            "message_worker": False,
            "two_factor_first_login_only": True,
        }
    ],
)
def test_codes_only_at_the_first_login(browser: TestClient, runtime: Runtime) -> None:
    fields = start(browser)
    password(browser, fields)
    assert redirected_code(enter(browser, fields, last_code(runtime)))
    assert _user(runtime).first_login_at is not None
    again = start(browser, prompt="login")
    assert redirected_code(password(browser, again))
    assert len(messages_for(runtime)) == 1


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "issuer": "http://testserver",
            "two_factor": "sms+email",
            "message_worker": False,
            "two_factor_sms_pattern": r"\+41\d{9}",
            "two_factor_resend_seconds": 0,
        }
    ],
)
def test_a_blocked_number_gets_feedback_and_no_sms(browser: TestClient, runtime: Runtime) -> None:
    set_user(runtime, phone="+4915112345678", language="de")
    fields = start(browser)
    page = browser.get(password(browser, fields).headers["location"])
    assert 'id="sms-blocked"' in page.text
    assert "kein Code per SMS" in page.text
    assert messages_for(runtime, channel="sms") == []
    # The e-mail still goes out.
    assert len(messages_for(runtime, channel="email")) == 1
    with runtime.sessions() as session:
        assert session.scalars(
            select(AuditEvent).where(AuditEvent.action == "second_factor.sms_blocked")
        ).all()
    # A number that matches gets its SMS, with the same code as the e-mail.
    set_user(runtime, phone="+41446681800")
    browser.post("/login/second-factor/send", data=fields)
    sms = messages_for(runtime, channel="sms")
    assert len(sms) == 1 and sms[0].recipient == "+41446681800"
    assert last_code(runtime, channel="sms") == last_code(runtime, channel="email")
    done = enter(browser, fields, last_code(runtime, channel="sms"))
    tokens = exchange(browser, redirected_code(done)).json()  # type: ignore[arg-type]
    assert _claims(tokens["id_token"])["amr"] == ["pwd", "sms", "otp", "mfa"]


@pytest.mark.parametrize(
    "settings_overrides",
    [{"issuer": "http://testserver", "two_factor": "sms", "message_worker": False}],
)
def test_sms_only_blocked_number_cannot_sign_in(browser: TestClient, runtime: Runtime) -> None:
    runtime.settings.two_factor_sms_pattern = r"\+41.*"
    set_user(runtime, phone="+4915112345678")
    fields = start(browser)
    page = browser.get(password(browser, fields).headers["location"])
    assert 'id="sms-blocked"' in page.text and 'name="code"' not in page.text
    assert messages_for(runtime) == []
    with runtime.sessions() as session:
        assert session.scalars(select(BrowserSession)).all() == []


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "issuer": "http://testserver",
            "two_factor": "email",
            "message_worker": False,
            "two_factor_sends_per_user": 2,
            "two_factor_resend_seconds": 0,
        }
    ],
)
def test_sending_is_throttled_per_user(browser: TestClient, runtime: Runtime) -> None:
    fields = start(browser)
    password(browser, fields)
    browser.post("/login/second-factor/send", data=fields)
    page = browser.get(browser.post("/login/second-factor/send", data=fields).headers["location"])
    assert 'id="send-throttled"' in page.text
    assert len(messages_for(runtime)) == 2
    # New login attempts do not get around it.
    other = start(browser, prompt="login")
    password(browser, other)
    assert len(messages_for(runtime)) == 2


@pytest.mark.parametrize(
    "settings_overrides",
    [{"issuer": "http://testserver", "two_factor": "email", "message_worker": False}],
)
def test_resending_waits_between_codes(browser: TestClient, runtime: Runtime) -> None:
    fields = start(browser)
    password(browser, fields)
    page = browser.get(browser.post("/login/second-factor/send", data=fields).headers["location"])
    assert 'id="send-throttled"' in page.text and len(messages_for(runtime)) == 1


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "issuer": "http://testserver",
            "two_factor": "sms",
            "message_worker": False,
            "two_factor_sends_per_address": 1,
        }
    ],
)
def test_sending_is_throttled_per_phone_number(browser: TestClient, runtime: Runtime) -> None:
    """Two accounts with one phone number cannot flood it between them."""
    from ostiary.users.schemas import UserCreate
    from ostiary.users.services import UserService
    from tests.protocols.oidc.conftest import ACTOR, PASSWORD

    set_user(runtime, phone="+41446681800")
    with runtime.sessions() as session:
        UserService(session, ACTOR, runtime.passwords).create(
            UserCreate(
                username="twin",
                domain="CSP",
                status="active",
                phone="+41446681800",
                password=PASSWORD,
            )  # type: ignore[arg-type]
        )
    password(browser, start(browser))
    assert len(messages_for(runtime, channel="sms")) == 1
    fields = start(browser, prompt="login")
    twin = browser.post("/login", data={**fields, "username": "twin", "password": PASSWORD})
    page = browser.get(twin.headers["location"])
    assert 'id="send-throttled"' in page.text
    assert messages_for(runtime, "twin") == []
