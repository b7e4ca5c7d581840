"""``/api/v1/webhooks``: subscriptions to events, their deliveries, re-sending and pings.

Needs ``webhooks.manage``; a caller reaches the subscriptions of the contexts in their scope.
A signing secret appears in a response only when Ostiary has just made it.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_id_cursor, next_cursor
from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.webhooks.models import DeliveryState
from ostiary.webhooks.schemas import (
    DeliveryOut,
    SubscriptionCreate,
    SubscriptionIssued,
    SubscriptionOut,
    SubscriptionUpdate,
)
from ostiary.webhooks.services import DeliveryView, WebhookService

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
Scope = Annotated[AdminScope, Depends(scope_for(Right.WEBHOOKS_MANAGE))]


async def _service(session: SessionDep, caller: CallerDep, runtime: RuntimeDep) -> WebhookService:
    return WebhookService(session, caller.actor, runtime.settings)


Service = Annotated[WebhookService, Depends(_service)]


def _no_store(response: Response) -> None:
    # Nothing on the way (proxies, the browser) may keep a response with a secret.
    response.headers["Cache-Control"] = "no-store"


def _delivery(view: DeliveryView) -> DeliveryOut:
    return DeliveryOut.of(view.delivery, view.event)


@router.get("", response_model=Page[SubscriptionOut], summary="List subscriptions, newest first")
def list_subscriptions(
    service: Service,
    scope: Scope,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[SubscriptionOut]:
    found = service.list(scope, before_id=decode_id_cursor(cursor), limit=limit)
    return Page(
        items=[SubscriptionOut.of(s) for s in found], next_cursor=next_cursor(found, limit, "id")
    )


@router.post(
    "",
    response_model=SubscriptionIssued,
    status_code=201,
    summary="Subscribe a receiver to events",
    description="The response holds the signing secret: the only time it is shown.",
)
def create_subscription(
    data: SubscriptionCreate, service: Service, scope: Scope, response: Response
) -> SubscriptionIssued:
    issued = service.create(data, scope)
    _no_store(response)
    return SubscriptionIssued.with_secret(issued.subscription, issued.secret)


@router.get("/{subscription_id}", response_model=SubscriptionOut, summary="Read a subscription")
def read_subscription(
    subscription_id: uuid.UUID, service: Service, scope: Scope
) -> SubscriptionOut:
    return SubscriptionOut.of(service.get(subscription_id, scope))


@router.patch("/{subscription_id}", response_model=SubscriptionOut, summary="Change a subscription")
def update_subscription(
    subscription_id: uuid.UUID, data: SubscriptionUpdate, service: Service, scope: Scope
) -> SubscriptionOut:
    return SubscriptionOut.of(service.update(service.get(subscription_id, scope), data))


@router.delete("/{subscription_id}", status_code=204, summary="Delete a subscription")
def delete_subscription(subscription_id: uuid.UUID, service: Service, scope: Scope) -> Response:
    service.delete(service.get(subscription_id, scope))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{subscription_id}/secret",
    response_model=SubscriptionIssued,
    summary="Replace the signing secret",
    description="The new secret is shown only here; the old one keeps signing beside it until "
    "previous_secret_until, so that receivers can switch without losing deliveries.",
)
def rotate_secret(
    subscription_id: uuid.UUID, service: Service, scope: Scope, response: Response
) -> SubscriptionIssued:
    subscription = service.get(subscription_id, scope)
    secret = service.rotate_secret(subscription)
    _no_store(response)
    return SubscriptionIssued.with_secret(subscription, secret)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=Page[DeliveryOut],
    summary="List a subscription's deliveries, newest first",
)
def list_deliveries(
    subscription_id: uuid.UUID,
    service: Service,
    scope: Scope,
    state: DeliveryState | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[DeliveryOut]:
    subscription = service.get(subscription_id, scope)
    views = service.deliveries(
        subscription, state=state, before_id=decode_id_cursor(cursor), limit=limit
    )
    rows = [view.delivery for view in views]
    return Page(items=[_delivery(v) for v in views], next_cursor=next_cursor(rows, limit, "id"))


@router.get(
    "/{subscription_id}/deliveries/{delivery_id}",
    response_model=DeliveryOut,
    summary="Read a delivery",
)
def read_delivery(
    subscription_id: uuid.UUID, delivery_id: uuid.UUID, service: Service, scope: Scope
) -> DeliveryOut:
    return _delivery(service.delivery(service.get(subscription_id, scope), delivery_id))


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/resend",
    response_model=DeliveryOut,
    status_code=202,
    summary="Send a delivery again now",
    description="Under the same webhook-id, so that a receiver that has it already can tell.",
)
def resend_delivery(
    subscription_id: uuid.UUID, delivery_id: uuid.UUID, service: Service, scope: Scope
) -> DeliveryOut:
    return _delivery(service.resend(service.get(subscription_id, scope), delivery_id))


@router.post(
    "/{subscription_id}/ping",
    response_model=DeliveryOut,
    status_code=202,
    summary="Send a webhook.ping event to try the receiver out",
)
def ping(subscription_id: uuid.UUID, service: Service, scope: Scope) -> DeliveryOut:
    return _delivery(service.ping(service.get(subscription_id, scope)))
