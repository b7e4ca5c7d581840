"""The background worker: claims due deliveries (``ostiary.db.queue``), POSTs them signed,
settles the outcome; and purges settled deliveries once their retention period is over.

At least once: a delivery is settled only after the receiver answered, so one whose worker
died mid-request is taken again when its lease runs out, under the same webhook-id.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db import queue
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.keys.crypto import KeyDecryptionError
from ostiary.runtime import Runtime
from ostiary.webhooks import standard_webhooks
from ostiary.webhooks.delivery import Attempt, NetworkPolicy, post
from ostiary.webhooks.events import deliveries_due
from ostiary.webhooks.models import (
    DeliveryState,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from ostiary.webhooks.services import Secrets

logger = logging.getLogger("ostiary.webhooks")

# How often the worker purges what the retention period is over for.
PURGE_EVERY = timedelta(minutes=10)


def body_of(payload: dict[str, Any]) -> bytes:
    """The request body: the same bytes on every attempt."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Claim:
    delivery_id: uuid.UUID
    token: uuid.UUID
    attempts: int
    url: str
    body: bytes | None
    secrets: list[str]


class DeliveryQueue:
    """Claiming and settling deliveries; every method runs its own short transaction."""

    def __init__(self, runtime: Runtime, *, clock: queue.Clock = utcnow) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.clock = clock
        self.secrets = Secrets(runtime.settings)

    def _due(self, now: datetime):  # type: ignore[no-untyped-def]
        enabled = select(WebhookSubscription.id).where(WebhookSubscription.enabled.is_(True))
        return queue.due(WebhookDelivery, now, WebhookDelivery.subscription_id.in_(enabled))

    def anything_due(self) -> bool:
        with self.runtime.read_sessions() as session:
            due = self._due(self.clock()).with_only_columns(WebhookDelivery.id).limit(1)
            return session.scalars(due).first() is not None

    def claim(self) -> Claim | None:
        if not self.anything_due():
            return None
        with self.runtime.sessions() as session, session.atomic():
            now = self.clock()
            row = session.scalars(
                self._due(now).limit(1).with_for_update(skip_locked=True, of=WebhookDelivery)
            ).first()
            if row is None:
                return None
            token = queue.lease(row, now, self.settings.webhooks_lease_seconds)
            event = session.get(WebhookEvent, row.event_id)
            subscription = session.get(WebhookSubscription, row.subscription_id)
            assert event is not None and subscription is not None
            try:
                secrets = self.secrets.signing(subscription)
            except KeyDecryptionError as exc:
                logger.error("webhook subscription %s: %s", subscription.id, exc)
                secrets = []
            body = body_of(event.payload) if event.payload is not None else None
            return Claim(row.id, token, row.attempts, subscription.url, body, secrets)

    def settle(self, claim: Claim, attempt: Attempt) -> str:
        """Record an attempt: "delivered", "retrying", "failed" or "lost" (the lease ran out
        and another worker has the delivery now)."""
        now = self.clock()
        with self.runtime.sessions() as session, session.atomic():
            row = session.get(WebhookDelivery, claim.delivery_id, with_for_update=True)
            if row is None or row.claim_token != claim.token:
                logger.warning(
                    "webhook delivery %s: the lease ran out meanwhile", claim.delivery_id
                )
                return "lost"
            row.last_attempt_at = now
            row.last_status = attempt.status
            row.last_error = attempt.error[:1000] if attempt.error else None
            queue.release(row)
            if attempt.delivered:
                row.state = DeliveryState.DELIVERED
                row.delivered_at = now
                return "delivered"
            give_up_at = row.retry_since + timedelta(hours=self.settings.webhooks_retry_hours)
            if now >= give_up_at or claim.body is None:
                row.state = DeliveryState.FAILED
                row.failed_at = now
                self._record_failure(session, row)
                return "failed"
            delay = queue.retry_delay(
                row.attempts,
                self.settings.webhooks_retry_seconds,
                self.settings.webhooks_retry_max_seconds,
                jitter=True,
            )
            row.due_at = min(now + timedelta(seconds=delay), give_up_at)
            return "retrying"

    @staticmethod
    def _record_failure(session: OstiarySession, row: WebhookDelivery) -> None:
        subscription = session.get(WebhookSubscription, row.subscription_id)
        AuditLog(session).record(
            Actor.system(),
            "webhook.delivery_failed",
            target_type="webhook",
            target_id=row.subscription_id,
            context_id=subscription.context_id if subscription else None,
            changes={
                "delivery_id": str(row.id),
                "attempts": row.attempts,
                "status": row.last_status,
                "error": row.last_error,
            },
        )

    def purge(self) -> int:
        """Remove events whose deliveries are all settled and older than the retention; looks
        without SQLite's write lock first, so that an idle worker holds up no writer."""
        cutoff = self.clock() - timedelta(days=self.settings.webhooks_retention_days)
        pending = exists().where(
            WebhookDelivery.event_id == WebhookEvent.id,
            WebhookDelivery.state == DeliveryState.PENDING,
        )
        old = select(WebhookEvent.id).where(WebhookEvent.created_at < cutoff, ~pending)
        with self.runtime.read_sessions() as session:
            if session.scalars(old.limit(1)).first() is None:
                return 0
        with self.runtime.sessions() as session, session.atomic():
            ids = list(session.scalars(old))
            if ids:
                session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)))
                session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(ids)))
        return len(ids)


@dataclass
class Report:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.delivered + self.retrying + self.failed


class WebhookWorker:
    """Sends due deliveries: ``run_once`` until nothing is due, or ``start`` a thread."""

    def __init__(self, runtime: Runtime, *, clock: queue.Clock = utcnow) -> None:
        self.runtime = runtime
        self.clock = clock
        self.queue = DeliveryQueue(runtime, clock=clock)
        self.policy = NetworkPolicy.from_settings(runtime.settings)
        self._purged_at: datetime | None = None
        self._thread = queue.PollingThread(
            "ostiary-webhooks",
            self.run_once,
            deliveries_due,
            runtime.settings.webhooks_poll_seconds,
        )

    def send_one(self, claim: Claim) -> str:
        if claim.body is None:
            attempt = Attempt(error="the payload was erased")
        elif not claim.secrets:
            attempt = Attempt(error="the signing secret cannot be decrypted")
        else:
            message_id = str(claim.delivery_id)
            # The receiver checks the timestamp against its own clock: the real time, always.
            headers = standard_webhooks.headers(claim.secrets, message_id, utcnow(), claim.body)
            attempt = post(
                claim.url,
                claim.body,
                headers,
                self.policy,
                timeout=self.runtime.settings.webhooks_timeout_seconds,
            )
        outcome = self.queue.settle(claim, attempt)
        if outcome != "delivered":
            logger.warning(
                "webhook delivery %s attempt %d: %s (%s)",
                claim.delivery_id,
                claim.attempts,
                attempt.error or attempt.status,
                outcome,
            )
        return outcome

    def run_once(self, limit: int | None = None) -> Report:
        report = Report()
        self._purge_now_and_then()
        while not self._thread.stopping.is_set() and (limit is None or report.handled < limit):
            claim = self.queue.claim()
            if claim is None:
                break
            outcome = self.send_one(claim)
            if outcome == "delivered":
                report.delivered += 1
            elif outcome == "failed":
                report.failed += 1
            else:
                report.retrying += 1
        return report

    def _purge_now_and_then(self) -> None:
        now = self.clock()
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
            self._purged_at = now
            self.queue.purge()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._thread.stop(timeout)


def start_webhook_worker(runtime: Runtime) -> WebhookWorker | None:
    """This process's worker, running, unless ``OSTIARY_WEBHOOKS_WORKER`` is off."""
    if not runtime.settings.webhooks_worker:
        return None
    worker = WebhookWorker(runtime)
    worker.start()
    return worker
