"""The account lifecycle that follows contracts, checked on a schedule.

- A pending contract whose start date has come becomes active.
- An account suspended by this job that has a running contract again is reactivated.
- An active account that has had contracts and has none running is suspended once the last
  day one ran lies more than the grace period back (contracts that ended before an
  administrator last reactivated it do not count).

Every change is a conditional update in a transaction of its own: workers and nodes running
the job at once make each change once, and a second run changes nothing.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import sessionmaker

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.contexts.models import Context, ContextStatus, ContextType, SuspensionReason
from ostiary.contexts.suspension import Suspensions
from ostiary.contracts.models import Contract, ContractStatus, running_on
from ostiary.db import queue
from ostiary.db.session import OstiarySession
from ostiary.runtime import Runtime

logger = logging.getLogger("ostiary.contracts")
# The first check after a start waits this long, so that a process that starts and stops at
# once (a test, a command) does not run it.
FIRST_CHECK_SECONDS = 60.0


@dataclass(frozen=True)
class Change:
    action: str
    target: str
    detail: str

    def __str__(self) -> str:
        return f"{self.action} {self.target}: {self.detail}"


def utc_today() -> date:
    return datetime.now(UTC).date()


class ContractLifecycle:
    def __init__(
        self,
        sessions: sessionmaker[OstiarySession],
        grace_days: int,
        actor: Actor | None = None,
    ) -> None:
        self.sessions = sessions
        self.grace_days = grace_days
        self.actor = actor or Actor.system()

    def run(self, today: date) -> list[Change]:
        """One check as of ``today``; what it changed."""
        return self._start_pending(today) + self._reactivate(today) + self._suspend(today)

    # -- steps ---------------------------------------------------------------------------

    def _start_pending(self, today: date) -> list[Change]:
        due = and_(
            Contract.status == ContractStatus.PENDING,
            Contract.starts_on <= today,
            or_(Contract.ends_on.is_(None), Contract.ends_on >= today),
        )
        changes = []
        for contract_id in self._ids(select(Contract.id).where(due)):
            with self.sessions() as session, session.atomic():
                started = session.execute(
                    update(Contract)
                    .where(Contract.id == contract_id, due)
                    .values(status=ContractStatus.ACTIVE)
                    .execution_options(synchronize_session=False)
                )
                if started.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                contract = session.get(Contract, contract_id)
                assert contract is not None
                AuditLog(session).record(
                    self.actor,
                    "contract.updated",
                    target_type="contract",
                    target_id=contract.id,
                    context_id=contract.account_id,
                    changes={"status": [ContractStatus.PENDING, ContractStatus.ACTIVE]},
                )
                changes.append(
                    Change("contract.updated", contract.external_id, "started: now active")
                )
        return changes

    def _reactivate(self, today: date) -> list[Change]:
        running = exists().where(Contract.account_id == Context.id, running_on(today))
        candidates = select(Context.id).where(
            Context.status == ContextStatus.SUSPENDED,
            Context.suspended_by == SuspensionReason.CONTRACT,
            running,
        )
        changes = []
        for context_id in self._ids(candidates):
            with self.sessions() as session:
                context = session.get(Context, context_id)
                assert context is not None
                if Suspensions(session, self.actor).reactivate(
                    context, SuspensionReason.CONTRACT, today, changes={"running_contract": True}
                ):
                    changes.append(
                        Change("context.reactivated", _label(context), "a contract runs again")
                    )
        return changes

    def _suspend(self, today: date) -> list[Change]:
        has_contracts = exists().where(Contract.account_id == Context.id)
        running = exists().where(Contract.account_id == Context.id, running_on(today))
        candidates = select(Context.id).where(
            Context.type == ContextType.ACCOUNT,
            Context.status == ContextStatus.ACTIVE,
            has_contracts,
            ~running,
        )
        changes = []
        for context_id in self._ids(candidates):
            with self.sessions() as session:
                context = session.get(Context, context_id)
                assert context is not None
                last = self._last_running_day(session, context, today)
                if last is None or (today - last).days <= self.grace_days:
                    continue
                detail = {"last_contract_day": last.isoformat(), "grace_days": self.grace_days}
                if Suspensions(session, self.actor).suspend(
                    context, SuspensionReason.CONTRACT, changes=detail
                ):
                    changes.append(
                        Change(
                            "context.suspended",
                            _label(context),
                            f"no running contract since {last.isoformat()}",
                        )
                    )
        return changes

    # -- parts ---------------------------------------------------------------------------

    @staticmethod
    def _last_running_day(session: OstiarySession, context: Context, today: date) -> date | None:
        contracts = session.scalars(select(Contract).where(Contract.account_id == context.id))
        days = [d for c in contracts if (d := c.last_running_day(today)) is not None]
        if not days:
            return None
        last = max(days)
        if context.reactivated_on is not None and last < context.reactivated_on:
            return None  # an administrator reactivated it after that
        return last

    def _ids(self, stmt: object) -> list[uuid.UUID]:
        with self.sessions() as session:
            return list(session.scalars(stmt))  # type: ignore[call-overload]


@dataclass(frozen=True)
class Outlook:
    """What the lifecycle will do to an account, as of a day: ``suspend`` on ``on`` (no
    contract runs, and the grace period ends), or ``reactivate`` at its next check (suspended by
    the lifecycle, and a contract runs again)."""

    action: str
    on: date
    last_contract_day: date | None = None


def outlook(
    session: OstiarySession, account: Context, today: date, grace_days: int
) -> Outlook | None:
    """What the check will do to ``account`` if nothing changes; None when it leaves it be.
    The same rules as ``ContractLifecycle.run``."""
    running = session.scalars(
        select(Contract.id).where(Contract.account_id == account.id, running_on(today)).limit(1)
    ).first()
    if account.status == ContextStatus.SUSPENDED:
        if account.suspended_by == SuspensionReason.CONTRACT and running is not None:
            return Outlook("reactivate", today)
        return None
    if account.type != ContextType.ACCOUNT or account.status != ContextStatus.ACTIVE:
        return None
    if running is not None:
        return None
    last = ContractLifecycle._last_running_day(session, account, today)
    if last is None:
        return None
    due = date.fromordinal(last.toordinal() + grace_days + 1)
    return Outlook("suspend", max(due, today), last)


def _label(context: Context) -> str:
    return f"{context.name} ({context.number or context.id})"


class ContractWorker:
    """Runs the check in the background of a server process, every few minutes."""

    def __init__(self, runtime: Runtime, today: Callable[[], date] = utc_today) -> None:
        self.lifecycle = ContractLifecycle(runtime.sessions, runtime.settings.contract_grace_days)
        self.interval = runtime.settings.contract_check_minutes * 60.0
        self.today = today
        self._thread = queue.PollingThread(
            "ostiary-contracts", self._run, threading.Event(), self.interval
        )

    def start(self) -> None:
        # Read when started, so that a test can shorten it.
        self._thread.first_wait = min(FIRST_CHECK_SECONDS, self.interval)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._thread.stop(timeout)

    def _run(self) -> None:
        for change in self.lifecycle.run(self.today()):
            logger.info("%s", change)


def start_contract_worker(runtime: Runtime) -> ContractWorker | None:
    """This process's contract check, running, unless ``OSTIARY_CONTRACT_CHECK_MINUTES`` is 0."""
    if runtime.settings.contract_check_minutes <= 0:
        return None
    worker = ContractWorker(runtime)
    worker.start()
    return worker
