"""Subscriptions, the events made for them and one delivery per event and subscription."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ostiary.db.base import Base, IdMixin, TimestampMixin
from ostiary.db.types import utcnow


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookSubscription(IdMixin, TimestampMixin, Base):
    """A receiver of the events of a context's subtree (the root's: every event).

    ``events`` lists the event types wanted; empty means all. The signing secret is stored
    encrypted with the instance's secret key; after a rotation the previous one keeps signing
    beside it until ``previous_secret_until``.
    """

    __tablename__ = "webhook_subscriptions"

    context_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contexts.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(default=list)
    description: Mapped[str] = mapped_column(String(500), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column()


class WebhookEvent(IdMixin, Base):
    """One event as subscribers receive it: ``payload`` is the Standard Webhooks body.

    The payload is reduced to ids, or erased, when the person it is about is deleted, and
    removed once every delivery is settled and the retention period is over.
    """

    __tablename__ = "webhook_events"

    type: Mapped[str] = mapped_column(String(64))
    audit_event_id: Mapped[uuid.UUID | None] = mapped_column()
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64), index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    context_id: Mapped[uuid.UUID | None] = mapped_column()
    payload: Mapped[dict[str, Any] | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class WebhookDelivery(IdMixin, Base):
    """An event on its way to one subscription; its id is the ``webhook-id`` of every attempt.

    ``pending`` until a receiver answered 2xx (``delivered``), or ``failed`` when attempts
    since ``retry_since`` (its creation, or the last re-send) went on for the retry period. ``claimed_until`` is the lease of the worker sending it.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "subscription_id"),
        Index("ix_webhook_deliveries_state_due_at", "state", "due_at"),
        Index("ix_webhook_deliveries_subscription_id_id", "subscription_id", "id"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    retry_since: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column()
    claim_token: Mapped[uuid.UUID | None] = mapped_column()
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    last_status: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
    failed_at: Mapped[datetime | None] = mapped_column()

    # So that an event is written before its deliveries in one flush.
    event: Mapped[WebhookEvent] = relationship(lazy="raise")
