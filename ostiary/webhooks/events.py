"""Webhook events made from audit events, in the transaction of the change.

Every service writes one audit event per change in the change's transaction. A session hook
collects the new ones whose action is in the catalogue as they are flushed; just before the
transaction commits, each becomes a webhook event with one delivery per subscription that
wants it. So a change that commits has its deliveries committed with it, and one rolled back
leaves none. The subscriptions and the object's representation are read at that moment, when
the transaction's changes are complete (a user created with memberships is shown with them).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, UOWTransaction

from ostiary.audit.models import AuditEvent
from ostiary.audit.services import AuditLog
from ostiary.contexts.models import Context
from ostiary.db.types import utcnow, uuid7
from ostiary.users.models import Membership, User
from ostiary.webhooks.catalogue import event_type
from ostiary.webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from ostiary.webhooks.renderers import render

# Set when a transaction that queued deliveries commits: wakes this process's worker.
deliveries_due = threading.Event()

_KEY = "ostiary.webhooks.pending"


@dataclass(frozen=True, slots=True)
class WrittenEvent:
    """An audit event that a bulk write inserted in Core, as the publisher reads it: the
    columns of ``event_row``, without the cost of an ORM object per event."""

    id: uuid.UUID
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor: str
    via: str
    client_address: str | None
    action: str
    target_type: str
    target_id: str | None
    context_id: uuid.UUID | None
    changes: dict[str, Any]


Published = AuditEvent | WrittenEvent


@dataclass
class _Pending:
    """What the running transaction has for webhooks so far."""

    audit_events: list[Published] = field(default_factory=list)
    # Contexts that users left in this transaction, without an event of their own (a deleted
    # user's memberships end with the deletion): the deletion still reaches them.
    former_contexts: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=dict)
    queued: bool = False


def _pending(session: Session) -> _Pending:
    pending = session.info.get(_KEY)
    if pending is None:
        pending = session.info[_KEY] = _Pending()
    return pending


def event_payload(session: Session, audit_event: Published, type_: str) -> dict[str, Any]:
    """The Standard Webhooks body of an audit event: ``type``, ``timestamp`` and ``data``."""
    context = session.get(Context, audit_event.context_id) if audit_event.context_id else None
    data: dict[str, Any] = {
        "target_type": audit_event.target_type,
        "target_id": audit_event.target_id,
        "context_id": str(audit_event.context_id) if audit_event.context_id else None,
        "context_number": context.number if context is not None else None,
        "actor": {
            "id": str(audit_event.actor_id) if audit_event.actor_id else None,
            "name": audit_event.actor,
            "via": audit_event.via,
        },
        "changes": audit_event.changes,
    }
    shown = render(session, audit_event.target_type, audit_event.target_id)
    if shown is not None:
        data["object"] = shown
    return {"type": type_, "timestamp": _timestamp(audit_event.occurred_at), "data": data}


def _timestamp(moment: datetime | None) -> str:
    return (moment or utcnow()).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class _Receiver:
    subscription_id: uuid.UUID
    path: str
    root: bool
    events: frozenset[str]

    def wants(self, type_: str) -> bool:
        return not self.events or type_ in self.events

    def reaches(self, paths: Sequence[str]) -> bool:
        """Events of no context (a user in none) reach only subscriptions of the root."""
        if not paths:
            return self.root
        return any(path.startswith(self.path) for path in paths)


class Publisher:
    """Turns audit events into webhook events and deliveries, in the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def receivers(self) -> list[_Receiver]:
        rows = self.session.execute(
            select(
                WebhookSubscription.id,
                WebhookSubscription.events,
                Context.path,
                Context.parent_id,
            )
            .join(Context, Context.id == WebhookSubscription.context_id)
            .where(WebhookSubscription.enabled.is_(True))
        ).all()
        return [
            _Receiver(sub_id, path, parent_id is None, frozenset(events or ()))
            for sub_id, events, path, parent_id in rows
        ]

    def publish(
        self,
        audit_events: Iterable[Published],
        former_contexts: dict[uuid.UUID, set[uuid.UUID]],
    ) -> int:
        """Queue the deliveries of ``audit_events``; returns how many."""
        receivers = self.receivers()
        if not receivers:
            return 0
        queued = 0
        for audit_event in audit_events:
            type_ = event_type(audit_event.action)
            if type_ is None:
                continue
            paths = self._paths(audit_event, former_contexts)
            wanted = [r for r in receivers if r.wants(type_) and r.reaches(paths)]
            if not wanted:
                continue
            webhook_event = WebhookEvent(
                id=uuid7(),
                type=type_,
                audit_event_id=audit_event.id,
                target_type=audit_event.target_type,
                target_id=audit_event.target_id,
                actor_id=audit_event.actor_id,
                context_id=audit_event.context_id,
                payload=event_payload(self.session, audit_event, type_),
            )
            self.queue(webhook_event, [r.subscription_id for r in wanted])
            queued += len(wanted)
        return queued

    def queue(
        self, webhook_event: WebhookEvent, subscription_ids: Sequence[uuid.UUID]
    ) -> list[WebhookDelivery]:
        now = utcnow()
        self.session.add(webhook_event)
        deliveries = [
            WebhookDelivery(
                event=webhook_event,
                subscription_id=subscription_id,
                due_at=now,
                retry_since=now,
                created_at=now,
            )
            for subscription_id in subscription_ids
        ]
        self.session.add_all(deliveries)
        return deliveries

    def _paths(
        self, audit_event: Published, former_contexts: dict[uuid.UUID, set[uuid.UUID]]
    ) -> list[str]:
        """The places of an event: its context, or for a user without one, their contexts."""
        ids: set[uuid.UUID] = set()
        if audit_event.context_id is not None:
            ids.add(audit_event.context_id)
        elif audit_event.target_type == "user" and audit_event.target_id:
            user_id = uuid.UUID(audit_event.target_id)
            ids |= set(
                self.session.scalars(
                    select(Membership.context_id).where(Membership.user_id == user_id)
                )
            )
            ids |= former_contexts.get(user_id, set())
        if not ids:
            return []
        return list(self.session.scalars(select(Context.path).where(Context.id.in_(ids))))


def collect_written(session: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Audit events that a bulk write inserted in Core, which no flush shows: their webhook
    events are made at commit like those of every other change."""
    pending = _pending(session)
    pending.audit_events += [
        WrittenEvent(**row) for row in rows if event_type(row["action"]) is not None
    ]


# -- the session hooks ----------------------------------------------------------------------


@event.listens_for(Session, "before_flush")
def _collect(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    for obj in session.new:
        if (
            isinstance(obj, AuditEvent)
            and event_type(obj.action) is not None
            and not AuditLog.is_refusal(obj)
        ):
            _pending(session).audit_events.append(obj)
    for obj in session.dirty:
        if isinstance(obj, User):
            removed = inspect(obj).attrs.memberships.history.deleted
            if removed:
                former = _pending(session).former_contexts.setdefault(obj.id, set())
                former |= {membership.context_id for membership in removed}


@event.listens_for(Session, "before_commit")
def _publish(session: Session) -> None:
    pending = session.info.get(_KEY)
    if pending is None:
        return
    session.flush()
    if not pending.audit_events:
        return
    audit_events, pending.audit_events = pending.audit_events, []
    if Publisher(session).publish(audit_events, pending.former_contexts):
        pending.queued = True


@event.listens_for(Session, "after_commit")
def _wake(session: Session) -> None:
    pending = session.info.pop(_KEY, None)
    if pending is not None and pending.queued:
        deliveries_due.set()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_KEY, None)
