"""What the webhooks API takes and shows. A secret is shown only when Ostiary has just made it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ostiary.webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    context_id: uuid.UUID = Field(description="The context whose subtree's events it receives.")
    url: str = Field(max_length=2000, description="The receiver: https:// (see docs/webhooks.md).")
    events: list[str] = Field(
        default_factory=list, description="Event types to receive; empty means all."
    )
    description: str = Field("", max_length=500)
    enabled: bool = True


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, max_length=2000)
    events: list[str] | None = None
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = None


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    context_id: uuid.UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    previous_secret_until: datetime | None = Field(
        description="Until then the secret before the last rotation still signs too."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, subscription: WebhookSubscription) -> SubscriptionOut:
        return cls(
            id=subscription.id,
            context_id=subscription.context_id,
            url=subscription.url,
            events=list(subscription.events),
            description=subscription.description,
            enabled=subscription.enabled,
            previous_secret_until=subscription.previous_secret_until,
            created_at=subscription.created_at,
            updated_at=subscription.updated_at,
        )


class SubscriptionIssued(SubscriptionOut):
    secret: str = Field(description="The signing secret (whsec_...): shown only in this response.")

    @classmethod
    def with_secret(cls, subscription: WebhookSubscription, secret: str) -> SubscriptionIssued:
        return cls(**SubscriptionOut.of(subscription).model_dump(), secret=secret)


class DeliveryOut(BaseModel):
    id: uuid.UUID = Field(description="Also the webhook-id header of every attempt.")
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    failed_at: datetime | None
    payload_erased: bool = Field(description="The payload is gone (retention, or a deletion).")

    @classmethod
    def of(cls, delivery: WebhookDelivery, event: WebhookEvent) -> DeliveryOut:
        pending = delivery.state == "pending"
        return cls(
            id=delivery.id,
            subscription_id=delivery.subscription_id,
            event_id=delivery.event_id,
            event_type=event.type,
            state=delivery.state,  # type: ignore[arg-type]
            attempts=delivery.attempts,
            last_status=delivery.last_status,
            last_error=delivery.last_error,
            last_attempt_at=delivery.last_attempt_at,
            next_attempt_at=delivery.due_at if pending else None,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
            failed_at=delivery.failed_at,
            payload_erased=event.payload is None,
        )
