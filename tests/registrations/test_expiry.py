"""Registrations whose address or phone was never verified: deleted a day past their code's
lifetime with the draft account and the pending organization they made, audited, and without
a webhook for things that were never announced; what the CRM made stays."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.audit.models import AuditEvent
from ostiary.contexts.models import Context
from ostiary.db.types import utcnow
from ostiary.registrations import expiry
from ostiary.registrations.expiry import (
    RegistrationExpiry,
    RegistrationWorker,
    start_registration_worker,
)
from ostiary.registrations.models import Registration
from ostiary.runtime import Runtime
from ostiary.settings import Settings
from ostiary.users.models import User
from ostiary.webhooks.models import WebhookEvent
from tests.helpers import make_context, root_id
from tests.registrations.support import (
    OVERRIDES,
    browser,
    code_for,
    enter_code,
    person,
    register,
    submit,
)
from tests.test_cli import run
from tests.webhooks.conftest import subscribe

KIM = "kim@koko.example"
# The code works 15 minutes (OSTIARY_VERIFICATION_MINUTES), then a day goes by.
LIFETIME = timedelta(minutes=15, hours=24)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {**OVERRIDES, "webhooks_worker": False, "webhooks_allow_loopback": True}


def _rows(runtime: Runtime) -> tuple[list[Registration], list[User], list[Context]]:
    with runtime.sessions() as session:
        found = (
            list(session.scalars(select(Registration))),
            list(session.scalars(select(User).where(User.username != "admin"))),
            list(session.scalars(select(Context).where(Context.type == "account"))),
        )
        session.expunge_all()
        return found


def _actions(runtime: Runtime, action: str) -> list[AuditEvent]:
    with runtime.sessions() as session:
        found = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        session.expunge_all()
        return found


def _webhook_types(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        return list(session.scalars(select(WebhookEvent.type).order_by(WebhookEvent.id)))


def _expire(runtime: Runtime, at: datetime) -> list[str]:
    return [str(change) for change in RegistrationExpiry.of(runtime).run(at)]


def test_an_unverified_registration_goes_with_its_draft_and_its_organization(
    client: TestClient, runtime: Runtime
) -> None:
    subscribe(client, root_id(client), "http://127.0.0.1:9/crm")
    started = utcnow()
    assert submit(browser(runtime), organization="KOKO Media", **person(KIM)).status_code == 303
    [row], [user], [context] = _rows(runtime)
    assert (row.state, user.status, context.status) == ("unverified", "draft", "pending")
    announced = _webhook_types(runtime)

    # Within the code's lifetime and the day after it, nothing goes.
    assert _expire(runtime, started + LIFETIME - timedelta(minutes=1)) == []
    assert len(_rows(runtime)[0]) == 1

    [change] = _expire(runtime, started + LIFETIME + timedelta(minutes=1))
    assert change.startswith("registration.expired KOKO Media <kim@koko.example>")
    assert "account and organization" in change
    assert _rows(runtime) == ([], [], [])
    [event] = _actions(runtime, "registration.expired")
    assert event.target_id == str(row.id) and event.actor == "system"
    assert event.changes["awaiting"] == "email" and event.changes["user_discarded"] is True
    assert event.changes["organization_deleted"] is True
    assert [e.target_id for e in _actions(runtime, "user.discarded")] == [str(user.id)]
    assert [e.target_id for e in _actions(runtime, "context.deleted")] == [str(context.id)]
    # The registration and its organization were never announced, nor is their end.
    assert _webhook_types(runtime) == announced
    # A second run finds nothing, and the address is free to register again.
    assert _expire(runtime, started + LIFETIME + timedelta(minutes=1)) == []
    assert submit(browser(runtime), organization="KOKO Media", **person(KIM)).status_code == 303


def test_verified_registrations_stay_and_the_phone_counts_from_the_address(
    client: TestClient, runtime: Runtime
) -> None:
    started = utcnow()
    register(runtime, browser(runtime), organization="KOKO Media", **person(KIM))
    web = browser(runtime)
    waiting = submit(
        web, organization="Phone Co", **person("pia@phone.example", phone="+41446681800")
    )
    enter_code(web, waiting.headers["location"], code_for(runtime, "pia@phone.example"))
    rows = {r.email: r for r in _rows(runtime)[0]}
    assert rows[KIM].state == "pending" and rows["pia@phone.example"].state == "unverified"
    proven = rows["pia@phone.example"].email_verified_at
    assert proven is not None

    much_later = started + timedelta(days=30)
    [change] = _expire(runtime, much_later)
    assert "Phone Co <pia@phone.example>" in change
    [event] = _actions(runtime, "registration.expired")
    assert event.changes["awaiting"] == "phone"
    [left] = _rows(runtime)[0]
    assert left.email == KIM and left.state == "pending"
    assert [c.name for c in _rows(runtime)[2]] == ["KOKO Media"]


def test_an_organization_the_crm_made_stays_when_its_registration_expires(
    client: TestClient, runtime: Runtime
) -> None:
    crm = make_context(
        client, root_id(client), "account", "KOKO Media", number="K-1", status="pending"
    )
    started = utcnow()
    answer = submit(browser(runtime), organization="KOKO Media", number="K-1", **person(KIM))
    assert answer.status_code == 303
    [row], _, _ = _rows(runtime)
    assert str(row.context_id) == crm["id"] and row.made_context is False

    [change] = _expire(runtime, started + LIFETIME + timedelta(minutes=1))
    assert change.endswith("never verified; deleted with its account")
    registrations, users, contexts = _rows(runtime)
    assert registrations == [] and users == []
    assert [str(c.id) for c in contexts] == [crm["id"]]


def test_the_server_runs_it_in_the_background(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit(browser(runtime), organization="KOKO Media", **person(KIM))
    monkeypatch.setattr(expiry, "FIRST_RUN_SECONDS", 0.01)
    worker = RegistrationWorker(runtime, now=lambda: utcnow() + timedelta(days=2))
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while _rows(runtime)[0] and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert _rows(runtime) == ([], [], [])
    off = runtime.settings.model_copy(update={"registration_check_minutes": 0})
    assert (
        start_registration_worker(Runtime(off, runtime.engine, runtime.sessions, runtime.passwords))
        is None
    )


def test_the_command_prints_what_it_deleted(tmp_path: Path) -> None:
    env = {"OSTIARY_BOOTSTRAP_ADMIN_PASSWORD": "x" * 16, "OSTIARY_REGISTRATION_PARENT": "root"}
    assert run(tmp_path, "migrate", **env).returncode == 0
    runtime = Runtime.from_settings(Settings(data_dir=tmp_path, registration_parent="root"))
    try:
        assert submit(browser(runtime), organization="CLI Co", **person(KIM)).status_code == 303
    finally:
        runtime.close()
    later = (utcnow() + timedelta(days=2)).replace(tzinfo=None).isoformat()
    first = run(tmp_path, "registrations", "expire", "--now", later)
    assert first.returncode == 0, first.stderr
    assert "registration.expired CLI Co <kim@koko.example>" in first.stdout
    assert "1 registration(s) expired" in first.stdout
    again = run(tmp_path, "registrations", "expire", "--now", later)
    assert "0 registration(s) expired" in again.stdout
    bad = run(tmp_path, "registrations", "expire", "--now", "someday")
    assert bad.returncode == 1 and "--now" in bad.stderr


def test_the_setting_says_how_long(runtime: Runtime) -> None:
    runtime.settings.registration_unverified_hours = 1
    started = utcnow()
    submit(browser(runtime), organization="KOKO Media", **person(KIM))
    assert _expire(runtime, started + timedelta(minutes=74)) == []
    assert len(_expire(runtime, started + timedelta(minutes=76))) == 1
    assert uuid.UUID(str(_actions(runtime, "registration.expired")[0].target_id))
