"""Managing subscriptions and their deliveries; forgetting a deleted person.

Subscriptions belong to a context: a caller reaches those of the contexts in their scope, and
the others do not exist for them. Secrets are made here, handed back once, stored encrypted
with the instance's secret key and never written to the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select

from ostiary.access.admin import AdminScope
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.contexts.models import Context
from ostiary.db.paths import within_paths
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow, uuid7
from ostiary.errors import InvalidTransition, NotFound, RuleViolation
from ostiary.keys.crypto import SecretBox
from ostiary.settings import Settings
from ostiary.text import Text
from ostiary.webhooks import standard_webhooks
from ostiary.webhooks.catalogue import ALL_TYPES, PING
from ostiary.webhooks.delivery import NetworkPolicy, UnsafeTarget, check_target
from ostiary.webhooks.events import Publisher, deliveries_due
from ostiary.webhooks.models import (
    DeliveryState,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from ostiary.webhooks.renderers import about_person
from ostiary.webhooks.schemas import SubscriptionCreate, SubscriptionUpdate

_SECRET_INFO = b"ostiary/webhook-secrets/aes-256-gcm/v1"


class Secrets:
    """A subscription's signing secrets, encrypted at rest and bound to its id."""

    def __init__(self, settings: Settings) -> None:
        self.box = SecretBox(settings.effective_secret_key, info=_SECRET_INFO)
        self.overlap = timedelta(hours=settings.webhooks_secret_overlap_hours)

    def seal(self, subscription_id: uuid.UUID, secret: str) -> str:
        return self.box.encrypt(secret.encode(), context=str(subscription_id))

    def signing(self, subscription: WebhookSubscription) -> list[str]:
        """The secrets that sign now: the current one, and the previous while it overlaps."""
        context = str(subscription.id)
        found = [self.box.decrypt(subscription.secret, context=context).decode()]
        until = subscription.previous_secret_until
        if subscription.previous_secret and until is not None and until > utcnow():
            found.append(self.box.decrypt(subscription.previous_secret, context=context).decode())
        return found


@dataclass(frozen=True)
class Issued:
    subscription: WebhookSubscription
    secret: str


@dataclass(frozen=True)
class DeliveryView:
    delivery: WebhookDelivery
    event: WebhookEvent


class WebhookService:
    def __init__(self, session: OstiarySession, actor: Actor, settings: Settings) -> None:
        self.session = session
        self.actor = actor
        self.settings = settings
        self.audit = AuditLog(session)
        self.secrets = Secrets(settings)
        self.policy = NetworkPolicy.from_settings(settings)

    # -- subscriptions --------------------------------------------------------------------

    def list(
        self, scope: AdminScope, *, before_id: uuid.UUID | None = None, limit: int = 50
    ) -> Sequence[WebhookSubscription]:
        stmt = select(WebhookSubscription).join(
            Context, Context.id == WebhookSubscription.context_id
        )
        visible = within_paths(Context.path, scope.visible_paths)
        if visible is not None:
            stmt = stmt.where(visible)
        if before_id is not None:
            stmt = stmt.where(WebhookSubscription.id < before_id)
        stmt = stmt.order_by(WebhookSubscription.id.desc()).limit(limit)
        return self.session.scalars(stmt).all()

    def get(self, subscription_id: uuid.UUID, scope: AdminScope) -> WebhookSubscription:
        subscription = self.session.get(WebhookSubscription, subscription_id)
        if subscription is None:
            raise NotFound(
                Text(
                    "no webhook subscription with id '{subscription_id}'",
                    subscription_id=subscription_id,
                ),
                field="id",
            )
        context = self.session.get(Context, subscription.context_id)
        if context is None or not scope.covers(context):
            raise scope.refuse("webhook subscription", subscription_id, subscription.context_id)
        return subscription

    def create(self, data: SubscriptionCreate, scope: AdminScope) -> Issued:
        context = self.session.get(Context, data.context_id)
        if context is None:
            raise NotFound(
                Text("no context with id '{context_id}'", context_id=data.context_id),
                field="context_id",
            )
        scope.require(context)
        self._check_url(data.url)
        events = self._check_events(data.events)
        secret = standard_webhooks.generate_secret()
        with self.session.atomic():
            subscription_id = uuid7()
            subscription = WebhookSubscription(
                id=subscription_id,
                context_id=context.id,
                url=data.url,
                events=events,
                description=data.description,
                enabled=data.enabled,
                secret=self.secrets.seal(subscription_id, secret),
            )
            self.session.add(subscription)
            self._record(
                "webhook.created",
                subscription,
                {"url": data.url, "events": events, "enabled": data.enabled},
            )
        return Issued(subscription, secret)

    def update(
        self, subscription: WebhookSubscription, data: SubscriptionUpdate
    ) -> WebhookSubscription:
        given = data.model_fields_set
        changes: dict[str, object] = {}
        for name in ("url", "description", "enabled"):
            if name in given and getattr(data, name) is None:
                raise RuleViolation(Text("{name} cannot be empty", name=name), field=name)
        if "url" in given and data.url is not None:
            self._check_url(data.url)
        new_events = self._check_events(data.events or []) if "events" in given else None
        with self.session.atomic():
            for name in ("url", "description", "enabled"):
                new = getattr(data, name)
                if name in given and getattr(subscription, name) != new:
                    changes[name] = [getattr(subscription, name), new]
                    setattr(subscription, name, new)
            if new_events is not None and new_events != list(subscription.events):
                changes["events"] = [list(subscription.events), new_events]
                subscription.events = new_events
            if changes:
                self._record("webhook.updated", subscription, changes)
        return subscription

    def delete(self, subscription: WebhookSubscription) -> None:
        """Remove the subscription; deliveries still pending for it are dropped."""
        with self.session.atomic():
            self._record("webhook.deleted", subscription, {"url": subscription.url})
            self.session.delete(subscription)

    def rotate_secret(self, subscription: WebhookSubscription) -> str:
        """A new secret; the old one keeps signing beside it for the overlap period."""
        secret = standard_webhooks.generate_secret()
        with self.session.atomic():
            subscription.previous_secret = subscription.secret
            subscription.previous_secret_until = utcnow() + self.secrets.overlap
            subscription.secret = self.secrets.seal(subscription.id, secret)
            self._record(
                "webhook.secret_rotated",
                subscription,
                {"previous_secret_until": subscription.previous_secret_until.isoformat()},
            )
        return secret

    # -- deliveries -----------------------------------------------------------------------

    def deliveries(
        self,
        subscription: WebhookSubscription,
        *,
        state: DeliveryState | None = None,
        before_id: uuid.UUID | None = None,
        limit: int = 50,
    ) -> list[DeliveryView]:
        """Newest first; ``before_id`` continues after the last of a previous page."""
        stmt = (
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.subscription_id == subscription.id)
        )
        if state is not None:
            stmt = stmt.where(WebhookDelivery.state == state)
        if before_id is not None:
            stmt = stmt.where(WebhookDelivery.id < before_id)
        stmt = stmt.order_by(WebhookDelivery.id.desc()).limit(limit)
        return [DeliveryView(d, e) for d, e in self.session.execute(stmt)]

    def delivery(self, subscription: WebhookSubscription, delivery_id: uuid.UUID) -> DeliveryView:
        row = self.session.execute(
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.subscription_id == subscription.id,
            )
        ).one_or_none()
        if row is None:
            raise NotFound(
                Text("no delivery with id '{delivery_id}'", delivery_id=delivery_id),
                field="delivery_id",
            )
        return DeliveryView(*row)

    def resend(self, subscription: WebhookSubscription, delivery_id: uuid.UUID) -> DeliveryView:
        """A new attempt now, under the same webhook-id, retried again as a new one would be."""
        view = self.delivery(subscription, delivery_id)
        if view.event.payload is None:
            raise InvalidTransition(
                "the payload of this delivery was erased; it cannot be sent again",
                field="delivery_id",
            )
        with self.session.atomic():
            now = utcnow()
            delivery = view.delivery
            delivery.state = DeliveryState.PENDING
            delivery.due_at = now
            delivery.retry_since = now
            delivery.claimed_until = delivery.claim_token = None
            delivery.failed_at = None
            self._record("webhook.delivery_resent", subscription, {"delivery_id": str(delivery.id)})
        deliveries_due.set()
        return view

    def ping(self, subscription: WebhookSubscription) -> DeliveryView:
        """A ``webhook.ping`` event to this subscription only, to try the receiver out."""
        with self.session.atomic():
            event = WebhookEvent(
                id=uuid7(),
                type=PING,
                target_type="webhook",
                target_id=str(subscription.id),
                actor_id=self.actor.user_id,
                context_id=subscription.context_id,
                payload={
                    "type": PING,
                    "timestamp": utcnow().isoformat().replace("+00:00", "Z"),
                    "data": {"subscription_id": str(subscription.id)},
                },
            )
            (delivery,) = Publisher(self.session).queue(event, [subscription.id])
            self._record("webhook.pinged", subscription, {"delivery_id": str(delivery.id)})
        deliveries_due.set()
        return DeliveryView(delivery, event)

    # -- helpers --------------------------------------------------------------------------

    def _check_url(self, url: str) -> None:
        try:
            check_target(url, self.policy)
        except UnsafeTarget as exc:
            raise RuleViolation(Text("url: {exc}", exc=exc), field="url") from None

    @staticmethod
    def _check_events(events: Sequence[str]) -> list[str]:
        for index, name in enumerate(events):
            if name not in ALL_TYPES:
                raise RuleViolation(
                    Text(
                        "unknown event type '{name}' (known: {all_types})",
                        name=name,
                        all_types=", ".join(sorted(ALL_TYPES)),
                    ),
                    field=f"events[{index}]",
                )
        return sorted(set(events))

    def _record(
        self, action: str, subscription: WebhookSubscription, changes: dict[str, object]
    ) -> None:
        self.audit.record(
            self.actor,
            action,
            target_type="webhook",
            target_id=subscription.id,
            context_id=subscription.context_id,
            changes=changes,
        )


def forget_person(
    session: OstiarySession, user_id: uuid.UUID, new_label: str, email_key: str | None = None
) -> None:
    """A deleted user's events: those about them (and about what carries their data, such as
    an invitation to the address they had, ``email_key``) keep only ids while still to be
    delivered, and lose their payload once settled; events by them keep their new label
    instead of their name. In the caller's transaction, the deletion's."""
    about = about_person(session, user_id, email_key)
    concerning = or_(
        *(
            (WebhookEvent.target_type == target_type) & WebhookEvent.target_id.in_(ids)
            for target_type, ids in about.items()
        )
    )
    events = session.scalars(
        select(WebhookEvent).where(concerning | (WebhookEvent.actor_id == user_id))
    ).all()
    for event in events:
        if event.payload is None:
            continue
        if event.target_id not in about.get(event.target_type or "", ()):
            data = dict(event.payload["data"])
            data["actor"] = {**data.get("actor", {}), "name": new_label}
            event.payload = {**event.payload, "data": data}
            continue
        still_pending = session.scalar(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.event_id == event.id,
                WebhookDelivery.state == DeliveryState.PENDING,
            )
            .limit(1)
        )
        event.payload = _ids_only(event) if still_pending is not None else None


def _ids_only(event: WebhookEvent) -> dict[str, object]:
    payload = event.payload or {}
    data = payload.get("data", {})
    return {
        "type": event.type,
        "timestamp": payload.get("timestamp"),
        "data": {
            "target_type": event.target_type,
            "target_id": event.target_id,
            "context_id": str(event.context_id) if event.context_id else None,
            "actor": {"id": (data.get("actor") or {}).get("id")},
            "erased": True,
        },
    }
