"""The outbox: messages wait in the database until a worker sends them.

A worker claims one due message at a time under a lease (``ostiary.db.queue``), sends it with
no transaction open, and records the outcome in a second transaction at once. See
docs/messages.md, "The outbox", for what this guarantees.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db import queue
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.messages.delivery import Delivery, DeliveryError, Outgoing, Transport
from ostiary.messages.models import Message, MessageState
from ostiary.messages.purposes import Channel
from ostiary.runtime import Runtime

logger = logging.getLogger("ostiary.messages")

Clock = Callable[[], datetime]


def mask_recipient(recipient: str) -> str:
    """What may be shown of an address: ``j***@example.com``, ``+41*******00``."""
    if "@" in recipient:
        local, _, domain = recipient.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if len(recipient) <= 5:
        return "*" * len(recipient)
    return recipient[:3] + "*" * (len(recipient) - 5) + recipient[-2:]


@dataclass(frozen=True)
class Claim:
    """A message this worker holds until ``until``."""

    message: Outgoing
    token: uuid.UUID
    attempts: int
    until: datetime
    user_id: uuid.UUID | None
    context_id: uuid.UUID | None


@dataclass
class Report:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed


class Outbox:
    """Claiming and settling messages; every method runs its own short transaction."""

    def __init__(self, runtime: Runtime, *, clock: Clock = utcnow) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.clock = clock

    def _session(self) -> OstiarySession:
        return self.runtime.sessions()

    def anything_due(self) -> bool:
        """Whether a claim would find a message; without SQLite's write lock, so that an idle
        worker polling the outbox holds up no writer."""
        with self.runtime.read_sessions() as session:
            due = queue.due(Message, self.clock()).with_only_columns(Message.id).limit(1)
            return session.scalars(due).first() is not None

    def claim(self) -> Claim | None:
        """Take the next due message for one send attempt, or None when nothing is due."""
        if not self.anything_due():
            return None
        max_attempts = self.settings.message_max_attempts
        with self._session() as session, session.atomic():
            while True:
                now = self.clock()
                row = session.scalars(
                    queue.due(Message, now).limit(1).with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    return None
                if row.attempts >= max_attempts:
                    # Its last attempt was claimed and never settled: the worker died.
                    self._give_up(session, row, "the last attempt did not finish (lease expired)")
                    continue
                token = queue.lease(row, now, self.settings.message_lease_seconds)
                return Claim(
                    Outgoing(
                        id=row.id,
                        purpose=row.purpose,
                        channel=Channel(row.channel),
                        language=row.language,
                        recipient=row.recipient,
                        subject=row.subject,
                        text=row.text or "",
                        html=row.html,
                        sender_name=row.sender_name,
                    ),
                    token,
                    row.attempts,
                    row.claimed_until,
                    row.user_id,
                    row.context_id,
                )

    def mark_sent(self, claim: Claim, transport: Transport) -> bool:
        """Settle a sent message. False when the claim was lost meanwhile (the lease ran out
        and another worker took the message): then it may be sent twice."""
        keep = transport.name == "outbox"
        values: dict[str, object] = {
            "state": MessageState.SENT,
            "sent_at": self.clock(),
            "claimed_until": None,
            "claim_token": None,
            "transport": transport.name,
            "last_error": None,
        }
        if not keep:
            values.update(
                subject=None,
                text=None,
                html=None,
                recipient=mask_recipient(claim.message.recipient),
            )
        with self._session() as session, session.atomic():
            result = session.execute(
                update(Message)
                .where(Message.id == claim.message.id, Message.claim_token == claim.token)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            logger.warning(
                "message %s was sent after its lease ran out; another worker may send it again",
                claim.message.id,
            )
            return False
        return True

    def mark_failed(self, claim: Claim, error: DeliveryError) -> str:
        """Settle a failed attempt: retried later with a growing delay, or given up.

        Returns "retrying", "failed" or "lost" (the claim had run out meanwhile)."""
        reason = str(error).replace(
            claim.message.recipient, mask_recipient(claim.message.recipient)
        )
        with self._session() as session, session.atomic():
            row = session.get(Message, claim.message.id, with_for_update=True)
            if row is None or row.claim_token != claim.token or row.state != MessageState.PENDING:
                return "lost"
            if error.permanent or row.attempts >= self.settings.message_max_attempts:
                self._give_up(session, row, reason)
                return "failed"
            delay = queue.retry_delay(
                row.attempts,
                self.settings.message_retry_seconds,
                self.settings.message_retry_max_seconds,
            )
            row.due_at = self.clock() + timedelta(seconds=delay)
            queue.release(row)
            row.last_error = reason[:1000]
            return "retrying"

    def _give_up(self, session: OstiarySession, row: Message, reason: str) -> None:
        row.state = MessageState.FAILED
        row.failed_at = self.clock()
        queue.release(row)
        row.last_error = reason[:1000]
        if row.transport != "outbox":
            row.subject = row.text = row.html = None
            row.recipient = mask_recipient(row.recipient)
        AuditLog(session).record(
            Actor.system(),
            "message.failed",
            target_type="message",
            target_id=row.id,
            context_id=row.context_id,
            changes={
                "purpose": row.purpose,
                "channel": row.channel,
                "recipient": mask_recipient(row.recipient),
                "user_id": str(row.user_id) if row.user_id else None,
                "attempts": row.attempts,
                "error": row.last_error,
            },
        )


class MessageWorker:
    """Sends due messages: ``run_once`` until nothing is due, or ``start`` a thread that does so
    whenever woken (a transaction that queued a message commits) and every poll interval."""

    def __init__(
        self,
        runtime: Runtime,
        delivery: Delivery | None = None,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.runtime = runtime
        self.delivery = delivery or Delivery.from_settings(runtime.settings)
        self.outbox = Outbox(runtime, clock=clock)
        self._thread = queue.PollingThread(
            "ostiary-messages",
            self.run_once,
            runtime.messages_due,
            runtime.settings.message_poll_seconds,
        )

    def send_one(self, claim: Claim) -> str:
        transport = self.delivery.transport_for(claim.message.channel)
        error: DeliveryError | None = None
        try:
            if transport is None:
                raise DeliveryError(f"no delivery is configured for {claim.message.channel}")
            transport.send(claim.message)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # a transport's own failure: try again later
            logger.exception("message %s: the %s transport failed", claim.message.id, transport)
            error = DeliveryError(f"{type(exc).__name__}: {exc}")
        if error is not None:
            outcome = self.outbox.mark_failed(claim, error)
            log = logger.error if outcome == "failed" else logger.warning
            log("message %s attempt %d: %s (%s)", claim.message.id, claim.attempts, error, outcome)
            return outcome
        assert transport is not None
        self.outbox.mark_sent(claim, transport)
        return "sent"

    def run_once(self, limit: int | None = None) -> Report:
        """Send what is due now (at most ``limit`` messages)."""
        report = Report()
        while not self._thread.stopping.is_set() and (limit is None or report.handled < limit):
            claim = self.outbox.claim()
            if claim is None:
                break
            outcome = self.send_one(claim)
            if outcome == "sent":
                report.sent += 1
            elif outcome == "failed":
                report.failed += 1
            else:
                report.retrying += 1
        return report

    # -- the background thread ------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._thread.stop(timeout)


def start_worker(runtime: Runtime) -> MessageWorker | None:
    """This process's worker, running, unless ``OSTIARY_MESSAGE_WORKER`` is off."""
    if not runtime.settings.message_worker:
        return None
    worker = MessageWorker(runtime)
    worker.start()
    return worker
