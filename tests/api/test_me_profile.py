"""One's own profile through the API: names and language at once; a new e-mail address or phone
number only after the code that travelled there for real (SMTP to an in-process server, SMS to
a local HTTP gateway) comes back, and every way of getting that wrong changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from ostiary.audit.models import AuditEvent
from ostiary.authn.models import BrowserSession
from ostiary.db.types import utcnow
from ostiary.runtime import Runtime
from ostiary.users.models import ContactVerification, User
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.helpers import assert_problem, make_user
from tests.users.support import Peers, real_peers

PASSWORD = "a long passphrase of forty-two"
OLD = "jane@old.example"
NEW = "jane@new.example"
PHONE = "+41446681800"
NEW_PHONE = "+41791234567"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver", "message_worker": False, "two_factor_resend_seconds": 0}


@pytest.fixture
def peers(runtime: Runtime) -> Iterator[Peers]:
    with real_peers(runtime) as found:
        yield found


@pytest.fixture
def jane(client: TestClient, peers: Peers) -> Iterator[TestClient]:
    """Jane, signed in to the API with HTTP Basic (her password comes with every request)."""
    make_user(
        client,
        "jane",
        email=OLD,
        phone=PHONE,
        first_name="Jane",
        last_name="Doe",
        status="active",
        password=PASSWORD,
    )
    with TestClient(app_for(peers.runtime), client=LOCAL_CLIENT) as own:
        own.auth = ("jane", PASSWORD)
        yield own


def stored(runtime: Runtime, username: str = "jane") -> User:
    with runtime.sessions() as session:
        return session.scalars(select(User).where(User.username == username)).one()


def updates(runtime: Runtime) -> list[dict[str, Any]]:
    user = stored(runtime)
    with runtime.sessions() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "user.updated", AuditEvent.target_id == str(user.id))
            .order_by(AuditEvent.id)
        )
        return [dict(e.changes) for e in events]


def test_my_profile_and_its_names_and_language(jane: TestClient, runtime: Runtime) -> None:
    me = jane.get("/api/v1/me")
    assert me.status_code == 200, me.text
    assert me.json() == {
        "username": "jane",
        "domain": "ENTERPRISE",
        "managed_externally": False,
        "first_name": "Jane",
        "last_name": "Doe",
        "email": OLD,
        "email_verified": False,
        "phone": PHONE,
        "language": None,
        "pending": [],
    }
    changed = jane.patch("/api/v1/me", json={"last_name": "Smith", "language": "de"})
    assert changed.status_code == 200 and changed.json()["last_name"] == "Smith"
    assert updates(runtime) == [{"last_name": ["Doe", "Smith"], "language": [None, "de"]}]
    # Names and language only: the e-mail address has its own way.
    assert_problem(jane.patch("/api/v1/me", json={"email": NEW}), 422, "invalid-input", "email")
    assert_problem(
        jane.patch("/api/v1/me", json={"language": "not a tag"}), 422, "invalid-input", "language"
    )
    assert_problem(jane.patch("/api/v1/me", json={"first_name": "x" * 101}), 422, "invalid-input")
    assert stored(runtime).language == "de" and stored(runtime).email == OLD


def test_a_new_address_applies_only_once_the_mailed_code_comes_back(
    jane: TestClient, runtime: Runtime, peers: Peers
) -> None:
    before = stored(runtime)
    asked = jane.post("/api/v1/me/email", json={"email": NEW})
    assert asked.status_code == 202, asked.text
    assert asked.json()["email"] == OLD
    [pending] = asked.json()["pending"]
    assert pending["field"] == "email" and pending["value"] == NEW
    assert stored(runtime).email == OLD
    code = peers.code_mailed_to(NEW)
    # The old address is told, without the code.
    [notice] = peers.mails_to(OLD)
    assert "j•••@new.example" in notice.message.get_body(("plain",)).get_content()
    assert code not in notice.message.as_string()

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert_problem(
        jane.post("/api/v1/me/email/verify", json={"code": wrong}),
        422,
        "verification-failed",
        "code",
    )
    assert stored(runtime).email == OLD
    done = jane.post("/api/v1/me/email/verify", json={"code": code, "email": NEW})
    assert done.status_code == 200, done.text
    assert done.json()["email"] == NEW and done.json()["pending"] == []
    after = stored(runtime)
    assert after.email == NEW and after.email_key == NEW
    # Sessions and tokens live on; the former address is told.
    assert after.security_stamp == before.security_stamp
    changed = peers.mails_to(OLD)[-1].message
    assert "was changed" in str(changed["Subject"])
    # The code came back from the new address: it is verified, in the same event.
    assert updates(runtime) == [{"email": [OLD, NEW], "email_verified": [False, True]}]
    assert jane.get("/api/v1/me").json()["email_verified"] is True
    # The code works once.
    again = jane.post("/api/v1/me/email/verify", json={"code": code})
    assert_problem(again, 422, "verification-failed", "code")


def test_only_a_hash_of_the_code_is_stored(
    jane: TestClient, runtime: Runtime, peers: Peers
) -> None:
    jane.post("/api/v1/me/email", json={"email": NEW})
    code = peers.code_mailed_to(NEW)
    with runtime.sessions() as session:
        row = session.scalars(select(ContactVerification)).one()
        assert code not in row.code_hash and len(row.code_hash) == 64


def test_an_expired_code_changes_nothing(jane: TestClient, runtime: Runtime, peers: Peers) -> None:
    jane.post("/api/v1/me/phone", json={"phone": NEW_PHONE})
    code = peers.code_texted_to(NEW_PHONE)
    with runtime.sessions() as session, session.atomic():
        session.execute(
            update(ContactVerification).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    late = jane.post("/api/v1/me/phone/verify", json={"code": code})
    body = assert_problem(late, 422, "verification-failed", "code")
    assert "expired" in body["detail"]
    assert stored(runtime).phone == PHONE
    assert jane.get("/api/v1/me").json()["pending"] == []


def test_a_code_serves_only_the_value_it_was_sent_for(
    jane: TestClient, runtime: Runtime, peers: Peers
) -> None:
    jane.post("/api/v1/me/email", json={"email": "first@new.example"})
    first = peers.code_mailed_to("first@new.example")
    jane.post("/api/v1/me/email", json={"email": NEW})
    second = peers.code_mailed_to(NEW)
    # The newer request made the older code useless ...
    if first != second:
        assert_problem(
            jane.post("/api/v1/me/email/verify", json={"code": first}),
            422,
            "verification-failed",
        )
    # ... and a code is bound to its value: the right code for another address fails.
    other = jane.post(
        "/api/v1/me/email/verify", json={"code": second, "email": "first@new.example"}
    )
    assert_problem(other, 422, "verification-failed", "code")
    assert stored(runtime).email == OLD
    assert jane.post("/api/v1/me/email/verify", json={"code": second}).json()["email"] == NEW


def test_a_phone_number_by_sms_through_the_gateway(
    jane: TestClient, runtime: Runtime, peers: Peers
) -> None:
    assert_problem(
        jane.post("/api/v1/me/phone", json={"phone": "0791234567"}), 422, "invalid-input", "phone"
    )
    asked = jane.post("/api/v1/me/phone", json={"phone": "+41 79 123 45 67"})
    assert asked.status_code == 202 and asked.json()["pending"][0]["value"] == NEW_PHONE
    code = peers.code_texted_to(NEW_PHONE)
    assert peers.texts_to(PHONE) == []  # nothing to the old number ...
    assert "+41•••••••67" in peers.mails_to(OLD)[-1].message.get_body(("plain",)).get_content()
    assert stored(runtime).phone == PHONE
    done = jane.post("/api/v1/me/phone/verify", json={"code": code, "phone": NEW_PHONE})
    assert done.status_code == 200 and done.json()["phone"] == NEW_PHONE
    assert updates(runtime) == [{"phone": [PHONE, NEW_PHONE]}]


def test_the_sms_pattern_of_the_instance_is_respected(
    jane: TestClient, runtime: Runtime, peers: Peers
) -> None:
    runtime.settings.two_factor_sms_pattern = r"\+41.*"
    refused = jane.post("/api/v1/me/phone", json={"phone": "+4915112345678"})
    assert_problem(refused, 422, "rule-violation", "phone")
    assert peers.texts_to("+4915112345678") == []
    assert jane.post("/api/v1/me/phone", json={"phone": NEW_PHONE}).status_code == 202


def test_too_many_wrong_codes_spend_the_code_and_then_lock(
    jane: TestClient, runtime: Runtime, peers: Peers
) -> None:
    tries = runtime.settings.two_factor_code_tries
    jane.post("/api/v1/me/email", json={"email": NEW})
    code = peers.code_mailed_to(NEW)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(tries):
        jane.post("/api/v1/me/email/verify", json={"code": wrong})
    spent = jane.post("/api/v1/me/email/verify", json={"code": code})
    assert_problem(spent, 422, "verification-failed", "code")
    assert stored(runtime).email == OLD
    # New codes do not give new tries beyond the user's limit for the window.
    left = runtime.settings.two_factor_user_tries - tries - 1
    jane.post("/api/v1/me/email", json={"email": NEW})
    fresh_code = peers.code_mailed_to(NEW)
    for _ in range(left):
        jane.post("/api/v1/me/email/verify", json={"code": "000000"})
    locked = jane.post("/api/v1/me/email/verify", json={"code": fresh_code})
    assert_problem(locked, 429, "throttled", "code")
    assert "retry-after" in locked.headers
    assert stored(runtime).email == OLD


def test_parallel_guesses_are_counted_before_the_comparison(
    jane: TestClient, runtime: Runtime, peers: Peers
) -> None:
    jane.post("/api/v1/me/email", json={"email": NEW})
    code = peers.code_mailed_to(NEW)
    guesses = [g for g in (f"{i:06d}" for i in range(20)) if g != code][:12]
    statuses: list[int] = []

    def guess(digits: str) -> None:
        statuses.append(jane.post("/api/v1/me/email/verify", json={"code": digits}).status_code)

    threads = [threading.Thread(target=guess, args=(g,)) for g in guesses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with runtime.sessions() as session:
        row = session.scalars(select(ContactVerification)).one()
        assert row.attempts == runtime.settings.two_factor_code_tries
    # The user's tries ran out for the last of them: refused before any comparison.
    assert statuses.count(429) == len(guesses) - runtime.settings.two_factor_user_tries
    assert statuses.count(422) == runtime.settings.two_factor_user_tries
    assert stored(runtime).email == OLD


def test_sending_is_throttled(jane: TestClient, runtime: Runtime, peers: Peers) -> None:
    limit = runtime.settings.two_factor_sends_per_user
    for i in range(limit):
        assert jane.post("/api/v1/me/email", json={"email": f"n{i}@new.example"}).status_code == 202
    flood = jane.post("/api/v1/me/email", json={"email": "more@new.example"})
    assert_problem(flood, 429, "throttled")
    assert int(flood.headers["retry-after"]) > 0
    assert peers.mails_to("more@new.example") == []


def test_a_wait_between_two_codes(jane: TestClient, runtime: Runtime, peers: Peers) -> None:
    runtime.settings.two_factor_resend_seconds = 30
    assert jane.post("/api/v1/me/phone", json={"phone": NEW_PHONE}).status_code == 202
    again = jane.post("/api/v1/me/phone", json={"phone": NEW_PHONE})
    assert_problem(again, 429, "throttled")
    assert len(peers.texts_to(NEW_PHONE)) == 1


def test_a_taken_address_is_refused_at_request_and_at_verification(
    client: TestClient, jane: TestClient, runtime: Runtime, peers: Peers
) -> None:
    make_user(client, "john", email="john@example.com")
    taken = jane.post("/api/v1/me/email", json={"email": "JOHN@example.com"})
    body = assert_problem(taken, 409, "already-exists", "email")
    assert "john" not in body["detail"].replace("john@", "")
    assert peers.mails_to("JOHN@example.com") == [] and peers.mails_to(OLD) == []
    # Free when asked for, taken before the code comes back.
    jane.post("/api/v1/me/email", json={"email": NEW})
    code = peers.code_mailed_to(NEW)
    mallory = make_user(client, "mallory", email="mallory@example.com")
    assert client.patch(f"/api/v1/users/{mallory['id']}", json={"email": NEW}).status_code == 200
    raced = jane.post("/api/v1/me/email/verify", json={"code": code})
    assert_problem(raced, 409, "already-exists", "email")
    assert stored(runtime).email == OLD
    assert updates(runtime) == []


def test_taken_addresses_cannot_be_probed_faster_than_codes_are_sent(
    client: TestClient, jane: TestClient, runtime: Runtime
) -> None:
    make_user(client, "john", email="john@example.com")
    for _ in range(runtime.settings.two_factor_sends_per_user):
        probe = jane.post("/api/v1/me/email", json={"email": "john@example.com"})
        assert_problem(probe, 409, "already-exists", "email")
    assert_problem(
        jane.post("/api/v1/me/email", json={"email": "john@example.com"}), 429, "throttled"
    )
    assert_problem(
        jane.post("/api/v1/me/email", json={"email": "free@new.example"}), 429, "throttled"
    )


def test_the_same_value_is_refused(jane: TestClient) -> None:
    assert_problem(
        jane.post("/api/v1/me/email", json={"email": OLD.upper()}), 422, "rule-violation", "email"
    )
    assert_problem(
        jane.post("/api/v1/me/phone", json={"phone": PHONE}), 422, "rule-violation", "phone"
    )


def test_without_credentials_nothing(anonymous: TestClient) -> None:
    assert anonymous.get("/api/v1/me").status_code == 401
    assert anonymous.post("/api/v1/me/email", json={"email": NEW}).status_code == 401


def test_a_bearer_token_needs_a_recent_sign_in_to_change_the_address(
    runtime: Runtime, peers: Peers
) -> None:
    from tests.authn.support import ostiary_bearer
    from tests.protocols.oidc.conftest import make_world

    make_world(runtime)
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as browser:
        bearer = ostiary_bearer(runtime, browser)
        assert browser.get("/api/v1/me", headers=bearer).json()["username"] == "jeremy"
        with runtime.sessions() as session, session.atomic():
            session.execute(update(BrowserSession).values(auth_time=utcnow() - timedelta(hours=1)))
        stale = browser.post("/api/v1/me/email", headers=bearer, json={"email": NEW})
        assert_problem(stale, 403, "reauthentication-required")
        assert peers.mails_to(NEW) == []
        # Names need no step-up.
        assert (
            browser.patch("/api/v1/me", headers=bearer, json={"first_name": "J"}).status_code == 200
        )
        with runtime.sessions() as session, session.atomic():
            session.execute(update(BrowserSession).values(auth_time=utcnow()))
        assert (
            browser.post("/api/v1/me/email", headers=bearer, json={"email": NEW}).status_code == 202
        )
