"""Registrations that were never verified, deleted on a schedule.

A registration waits for the code sent to the registrant's e-mail address (and then for the
one sent to their phone, when they gave one). Once ``OSTIARY_REGISTRATION_UNVERIFIED_HOURS``
have passed beyond the code's lifetime (``OSTIARY_VERIFICATION_MINUTES``, counted from the
last code the registration waits for), the registration is deleted with what it made that
never became active: the draft account and the pending organization. An account that is
active (a lead whose invitation the address's code took up) stays.

Each registration goes in a transaction of its own, with an audit event
(``registration.expired``) for the record. Nothing of it was announced to webhook
subscribers (a registration is announced once it is submitted, an organization once it is
approved), so no webhook event tells of its end. Workers and nodes running the job at once
delete each registration once; a second run changes nothing.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import sessionmaker

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.passwords import Passwords
from ostiary.contexts.models import Context, ContextStatus
from ostiary.contracts.lifecycle import Change
from ostiary.contracts.models import Contract
from ostiary.db import queue
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.registrations.models import Registration, RegistrationState
from ostiary.runtime import Runtime
from ostiary.users.lifecycle import LifecycleAction
from ostiary.users.models import Membership, User, UserStatus
from ostiary.users.services import UserService

logger = logging.getLogger("ostiary.registrations")
# The first run after a start waits this long, so that a process that starts and stops at
# once (a test, a command) does not run it.
FIRST_RUN_SECONDS = 60.0


class RegistrationExpiry:
    def __init__(
        self,
        sessions: sessionmaker[OstiarySession],
        passwords: Passwords,
        *,
        code_minutes: int,
        unverified_hours: int,
        actor: Actor | None = None,
    ) -> None:
        self.sessions = sessions
        self.passwords = passwords
        self.lifetime = timedelta(minutes=code_minutes, hours=unverified_hours)
        self.actor = actor or Actor.system()

    @classmethod
    def of(cls, runtime: Runtime) -> RegistrationExpiry:
        settings = runtime.settings
        return cls(
            runtime.sessions,
            runtime.passwords,
            code_minutes=settings.verification_minutes,
            unverified_hours=settings.registration_unverified_hours,
        )

    def run(self, now: datetime | None = None) -> list[Change]:
        """Delete the registrations expired as of ``now``; what it deleted."""
        cutoff = (now or utcnow()) - self.lifetime
        changes = []
        for registration_id in self._expired(cutoff):
            change = self._delete(registration_id, cutoff)
            if change is not None:
                changes.append(change)
        return changes

    def _expired(self, cutoff: datetime) -> list[uuid.UUID]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(Registration.id)
                    .where(
                        Registration.state == RegistrationState.UNVERIFIED,
                        _last_code_at() < cutoff,
                    )
                    .order_by(Registration.id)
                )
            )

    def _delete(self, registration_id: uuid.UUID, cutoff: datetime) -> Change | None:
        with self.sessions() as session, session.atomic():
            # Conditional: of two runs at once, one deletes it; one verified meanwhile stays.
            row = session.scalars(
                delete(Registration)
                .where(
                    Registration.id == registration_id,
                    Registration.state == RegistrationState.UNVERIFIED,
                    _last_code_at() < cutoff,
                )
                .returning(Registration)
                .execution_options(synchronize_session=False)
            ).one_or_none()
            if row is None:
                return None
            user = session.get(User, row.user_id) if row.user_id else None
            discarded = user is not None and user.status == UserStatus.DRAFT
            if discarded and user is not None:
                UserService(session, self.actor, self.passwords).act(user, LifecycleAction.DISCARD)
            context = session.get(Context, row.context_id)
            removed = context is not None and row.made_context and _unused(session, context)
            if removed and context is not None:
                session.execute(
                    delete(Context)
                    .where(Context.id == context.id, Context.status == ContextStatus.PENDING)
                    .execution_options(synchronize_session=False)
                )
                session.expunge(context)
                AuditLog(session).record(
                    self.actor,
                    "context.deleted",
                    target_type="context",
                    target_id=context.id,
                    changes={"status": [ContextStatus.PENDING, None], "registration": "expired"},
                )
            AuditLog(session).record(
                self.actor,
                "registration.expired",
                target_type="registration",
                target_id=row.id,
                context_id=None if removed else row.context_id,
                changes={
                    "kind": row.kind,
                    "email": row.email,
                    "awaiting": "email" if row.email_verified_at is None else "phone",
                    "user_discarded": discarded,
                    "organization_deleted": removed,
                },
            )
        gone = [what for what, done in (("account", discarded), ("organization", removed)) if done]
        detail = "never verified" + (f"; deleted with its {' and '.join(gone)}" if gone else "")
        return Change("registration.expired", f"{row.organization_name} <{row.email}>", detail)


def _last_code_at() -> object:
    """When the registration's last code went out: at the start, or once the address was
    proven (the phone's)."""
    return func.coalesce(Registration.email_verified_at, Registration.created_at)


def _unused(session: OstiarySession, context: Context) -> bool:
    """Whether the pending organization has nothing that anyone else made: no member, no
    context below it, no contract, no other registration."""
    if context.status != ContextStatus.PENDING:
        return False
    for stmt in (
        select(Membership.user_id).where(Membership.context_id == context.id),
        select(Context.id).where(Context.parent_id == context.id),
        select(Contract.id).where(Contract.account_id == context.id),
        select(Registration.id).where(Registration.context_id == context.id),
    ):
        if session.scalars(stmt.limit(1)).first() is not None:
            return False
    return True


class RegistrationWorker:
    """Runs the clean-up in the background of a server process, every few minutes."""

    def __init__(self, runtime: Runtime, now: Callable[[], datetime] = utcnow) -> None:
        self.expiry = RegistrationExpiry.of(runtime)
        self.interval = runtime.settings.registration_check_minutes * 60.0
        self.now = now
        self._thread = queue.PollingThread(
            "ostiary-registrations", self._run, threading.Event(), self.interval
        )

    def start(self) -> None:
        # Read when started, so that a test can shorten it.
        self._thread.first_wait = min(FIRST_RUN_SECONDS, self.interval)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._thread.stop(timeout)

    def _run(self) -> None:
        for change in self.expiry.run(self.now()):
            logger.info("%s", change)


def start_registration_worker(runtime: Runtime) -> RegistrationWorker | None:
    """This process's clean-up, running, unless ``OSTIARY_REGISTRATION_CHECK_MINUTES`` is 0."""
    if runtime.settings.registration_check_minutes <= 0:
        return None
    worker = RegistrationWorker(runtime)
    worker.start()
    return worker
