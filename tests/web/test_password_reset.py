"""Resetting a forgotten password from the login page: the same answer for every name, a
single-use expiring link by e-mail, the policy, every session ended, no sign-in, and the second
factor still asked for afterwards."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.authn.models import BrowserSession, OneTimeToken
from ostiary.authn.sessions import SessionService
from ostiary.db.types import utcnow
from ostiary.messages.models import Message
from ostiary.runtime import Runtime
from ostiary.users.models import User, UserDomain
from tests.apps import app_for
from tests.authn.support import USERNAME, password, start
from tests.conftest import LOCAL_CLIENT
from tests.protocols.oidc.conftest import make_client, make_world

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver", "message_worker": False, "two_factor": "email"}


@pytest.fixture
def browser(runtime: Runtime) -> Any:
    make_world(runtime)
    make_client(runtime, "spa")
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def mails(runtime: Runtime, purpose: str = "password-reset") -> list[Message]:
    with runtime.sessions() as session:
        return list(
            session.scalars(select(Message).where(Message.purpose == purpose).order_by(Message.id))
        )


def link_in(message: Message) -> str:
    match = re.search(r"http://testserver(/login/reset\?token=\S+)", message.text or "")
    assert match, message.text
    return match.group(1)


def ask(browser: TestClient, identifier: str) -> Any:
    return browser.post("/login/forgot", data={"identifier": identifier})


def notice(page: Any) -> str:
    found = re.search(r'<p class="notice" role="status" id="reset-sent">(.*?)</p>', page.text)
    assert found, page.text
    return found.group(1)


def test_the_login_page_links_to_the_reset(browser: TestClient) -> None:
    fields = start(browser)
    page = browser.get(f"/login?flow={fields['flow']}")
    assert f'href="/login/forgot?flow={fields["flow"]}"' in page.text
    forgot = browser.get(f"/login/forgot?flow={fields['flow']}")
    assert forgot.status_code == 200 and 'name="identifier"' in forgot.text
    assert f'href="/login?flow={fields["flow"]}"' in forgot.text


def test_the_same_answer_whether_or_not_the_account_exists(
    browser: TestClient, runtime: Runtime
) -> None:
    known = ask(browser, "Jeremy@City.Example")
    unknown = ask(browser, "nobody@city.example")
    assert known.status_code == unknown.status_code == 200
    assert notice(known) == notice(unknown)
    assert known.text == unknown.text
    sent = mails(runtime)
    assert len(sent) == 1 and sent[0].recipient == "jeremy@city.example"
    assert "30 minutes" in (sent[0].text or "")


def test_the_link_sets_a_new_password_once_and_signs_nobody_in(
    browser: TestClient, runtime: Runtime
) -> None:
    # A session from before the reset, and the tokens standing on it.
    with runtime.sessions() as session, session.atomic():
        user = session.scalars(select(User).where(User.username == USERNAME)).one()
        old_session, _ = SessionService(session, runtime.settings).start(
            user, amr=["pwd"], actor=Actor(USERNAME, "web")
        )
        stamp = user.security_stamp
    ask(browser, USERNAME)
    link = link_in(mails(runtime)[-1])
    token = link.split("token=")[1]
    with runtime.sessions() as session:
        stored = session.scalars(
            select(OneTimeToken).where(OneTimeToken.purpose == "password-reset")
        ).one()
        # Only the hash is kept.
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert (stored.expires_at - stored.created_at).total_seconds() == pytest.approx(1800, abs=5)

    form = browser.get(link)
    assert form.status_code == 200 and 'name="password"' in form.text and USERNAME in form.text
    assert form.headers["referrer-policy"] == "no-referrer"
    assert form.headers["cache-control"] == "no-store"

    common = browser.post(
        "/login/reset",
        data={"token": token, "password": "qwerty123456", "confirmation": "qwerty123456"},
    )
    assert common.status_code == 422
    assert re.search(r'id="password-error">[^<]*10,000 most common', common.text)
    mismatch = browser.post(
        "/login/reset",
        data={"token": token, "password": NEW_PASSWORD, "confirmation": "something else"},
    )
    assert mismatch.status_code == 422 and 'id="confirmation-error"' in mismatch.text

    done = browser.post(
        "/login/reset",
        data={"token": token, "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD},
    )
    assert done.status_code == 200 and 'id="reset-done"' in done.text
    assert "set-cookie" not in done.headers  # nobody is signed in by a reset
    again = browser.post(
        "/login/reset",
        data={"token": token, "password": NEW_PASSWORD + "!", "confirmation": NEW_PASSWORD + "!"},
    )
    assert again.status_code == 404 and 'id="reset-expired"' in again.text
    assert browser.get(link).status_code == 404

    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.username == USERNAME)).one()
        assert user.security_stamp != stamp
        assert runtime.passwords.verify(user.password_hash, NEW_PASSWORD)
        ended = session.get(BrowserSession, old_session.id)
        assert ended is not None and ended.ended_at is not None
        actions = set(
            session.scalars(select(AuditEvent.action).where(AuditEvent.target_id == str(user.id)))
        )
        assert {"user.password_reset_requested", "user.password_reset"} <= actions
    assert len(mails(runtime, "password-changed")) == 1

    # The old password is gone; the new one leads to the second factor, as before the reset.
    assert password(browser, start(browser)).status_code == 401
    after = password(browser, start(browser), NEW_PASSWORD)
    assert after.status_code == 303 and "/login/second-factor" in after.headers["location"]


def test_a_new_request_makes_the_old_link_useless(browser: TestClient, runtime: Runtime) -> None:
    ask(browser, USERNAME)
    ask(browser, USERNAME)
    first, second = (link_in(m) for m in mails(runtime))
    assert browser.get(first).status_code == 404
    assert browser.get(second).status_code == 200


def test_an_expired_link_is_refused(browser: TestClient, runtime: Runtime) -> None:
    ask(browser, USERNAME)
    link = link_in(mails(runtime)[-1])
    with runtime.sessions() as session, session.atomic():
        session.execute(update(OneTimeToken).values(expires_at=utcnow()))
    page = browser.get(link)
    assert page.status_code == 404 and 'href="/login/forgot"' in page.text
    refused = browser.post(
        "/login/reset",
        data={
            "token": link.split("token=")[1],
            "password": NEW_PASSWORD,
            "confirmation": NEW_PASSWORD,
        },
    )
    assert refused.status_code == 404


def test_delegated_users_are_sent_to_their_identity_provider(
    browser: TestClient, runtime: Runtime
) -> None:
    with runtime.sessions() as session, session.atomic():
        session.add(UserDomain(name="SSO", kind="delegated", context_types=["account"]))
        session.flush()
        user = session.scalars(select(User).where(User.username == USERNAME)).one()
        user.domain = session.scalars(select(UserDomain).where(UserDomain.name == "SSO")).one()
        user.password_hash = None
    answer = ask(browser, USERNAME)
    assert answer.status_code == 200 and 'id="reset-sent"' in answer.text
    assert mails(runtime) == []
    [note] = mails(runtime, "password-reset-external")
    assert "identity provider" in (note.text or "") and "token=" not in (note.text or "")
    with runtime.sessions() as session:
        assert session.scalars(select(OneTimeToken)).all() == []


def test_requests_are_throttled_alike_for_known_and_unknown_names(
    browser: TestClient, runtime: Runtime
) -> None:
    for name in (USERNAME, "nobody-at-all"):
        answers = [ask(browser, name) for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert 'id="reset-error"' in answers[-1].text and "Wait" in answers[-1].text
    assert len(mails(runtime)) == 5


def test_the_pages_speak_german(browser: TestClient, runtime: Runtime) -> None:
    german = {"Accept-Language": "de"}
    assert "Passwort vergessen?" in browser.get("/login/forgot", headers=german).text
    ask(browser, USERNAME)
    token = link_in(mails(runtime)[-1]).split("token=")[1]
    weak = browser.post(
        "/login/reset",
        data={"token": token, "password": "kurz", "confirmation": "kurz"},
        headers=german,
    )
    assert "Verwenden Sie mindestens 12 Zeichen." in weak.text
