"""``/console/webhooks``: the webhook subscriptions within the caller's reach
(``webhooks.manage``), a subscription's deliveries a page at a time, re-sending one and trying
the receiver out, through the services of ``/api/v1/webhooks``. A signing secret is shown on
the answer that made it only."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from ostiary.access.catalogue import Right
from ostiary.api.pagination import decode_id_cursor, next_cursor
from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.errors import NotFound, OstiaryError
from ostiary.text import Text
from ostiary.web.console.field_errors import of_error, of_validation
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.session import ConsoleSession
from ostiary.webhooks.catalogue import ALL_TYPES
from ostiary.webhooks.models import WebhookSubscription
from ostiary.webhooks.schemas import SubscriptionCreate, SubscriptionUpdate
from ostiary.webhooks.services import WebhookService

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
EVENTS = sorted(ALL_TYPES)
NOTICES = {
    "updated": "The subscription is saved.",
    "resent": "The delivery is queued to be sent again now.",
    "pinged": "A webhook.ping event is queued for the receiver.",
}


class SubscriptionFields(BaseModel):
    csrf: str = ""
    url: str = ""
    events: list[str] = []
    description: str = ""
    enabled: str = ""


def _service(console: ConsoleSession, runtime: RuntimeDep) -> WebhookService:
    return WebhookService(console.caller.session, console.caller.actor, runtime.settings)


def _id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(
            Text("no {what} with id '{value}'", what=what, value=value), field="id"
        ) from None


def _subscription(
    console: ConsoleSession, runtime: RuntimeDep, subscription_id: str
) -> WebhookSubscription:
    """The subscription if the caller's ``webhooks.manage`` reaches it; else "not found",
    audited."""
    scope = console.scope(Right.WEBHOOKS_MANAGE)
    return _service(console, runtime).get(_id(subscription_id, "webhook subscription"), scope)


def _list(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    cursor: str = "",
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: SubscriptionFields | None = None,
) -> Response:
    scope = console.scope(Right.WEBHOOKS_MANAGE)
    rows = _service(console, runtime).list(
        scope, before_id=decode_id_cursor(cursor or None), limit=PAGE_SIZE
    )
    return render(
        request,
        runtime,
        console,
        "webhooks.html",
        status=status,
        active="webhooks",
        subscriptions=rows,
        next_cursor=next_cursor(rows, PAGE_SIZE, "id"),
        may_create=scope.covers(console.context),
        events=EVENTS,
        errors=errors or {},
        typed=typed or SubscriptionFields(enabled="on"),
    )


@router.get("/console/webhooks")
def list_subscriptions(
    request: Request, runtime: RuntimeDep, session: SessionDep, cursor: str = ""
) -> Response:
    return console_page(
        request, runtime, session, lambda console: _list(request, runtime, console, cursor)
    )


@router.post("/console/webhooks")
def create_subscription(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    form: Annotated[SubscriptionFields, Form()],
) -> Response:
    """A subscription of the current context: it receives the events of its subtree."""

    def work(console: ConsoleSession) -> Response:
        scope = console.scope(Right.WEBHOOKS_MANAGE)
        try:
            data = SubscriptionCreate(
                context_id=console.context.id,
                url=form.url.strip(),
                events=form.events,
                description=form.description.strip(),
                enabled=bool(form.enabled),
            )
        except ValidationError as exc:
            errors = of_validation(exc)
            return _list(request, runtime, console, status=422, errors=errors, typed=form)
        try:
            issued = _service(console, runtime).create(data, scope)
        except OstiaryError as exc:
            errors = of_error(exc)
            if not errors or exc.refusal is not None:
                raise
            session.rollback()
            return _list(request, runtime, console, status=exc.status, errors=errors, typed=form)
        return _detail(request, runtime, console, issued.subscription, secret=issued.secret)

    return console_page(request, runtime, session, work, csrf=form.csrf)


def _detail(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    subscription: WebhookSubscription,
    cursor: str = "",
    *,
    status: int = 200,
    secret: str | None = None,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    typed: SubscriptionFields | None = None,
) -> Response:
    views = _service(console, runtime).deliveries(
        subscription, before_id=decode_id_cursor(cursor or None), limit=PAGE_SIZE
    )
    rows = [view.delivery for view in views]
    fields = typed or SubscriptionFields(
        url=subscription.url,
        events=list(subscription.events),
        description=subscription.description,
        enabled="on" if subscription.enabled else "",
    )
    return render(
        request,
        runtime,
        console,
        "webhook.html",
        status=status,
        active="webhooks",
        subscription=subscription,
        deliveries=views,
        next_cursor=next_cursor(rows, PAGE_SIZE, "id"),
        secret=secret,
        notice=NOTICES.get(notice or ""),
        events=EVENTS,
        errors=errors or {},
        typed=fields,
    )


@router.get("/console/webhooks/{subscription_id}")
def show_subscription(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    subscription_id: str,
    cursor: str = "",
    done: str = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        subscription = _subscription(console, runtime, subscription_id)
        return _detail(request, runtime, console, subscription, cursor, notice=done)

    return console_page(request, runtime, session, work)


@router.post("/console/webhooks/{subscription_id}")
def update_subscription(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    subscription_id: str,
    form: Annotated[SubscriptionFields, Form()],
) -> Response:
    def work(console: ConsoleSession) -> Response:
        subscription = _subscription(console, runtime, subscription_id)
        try:
            data = SubscriptionUpdate(
                url=form.url.strip(),
                events=form.events,
                description=form.description.strip(),
                enabled=bool(form.enabled),
            )
            _service(console, runtime).update(subscription, data)
        except ValidationError as exc:
            errors = of_validation(exc)
            return _detail(
                request, runtime, console, subscription, status=422, errors=errors, typed=form
            )
        except OstiaryError as exc:
            errors = of_error(exc)
            if not errors or exc.refusal is not None:
                raise
            session.rollback()
            subscription = _subscription(console, runtime, subscription_id)
            return _detail(
                request, runtime, console, subscription, status=422, errors=errors, typed=form
            )
        return redirect(f"/console/webhooks/{subscription_id}?done=updated")

    return console_page(request, runtime, session, work, csrf=form.csrf)


@router.post("/console/webhooks/{subscription_id}/secret")
def new_secret(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    subscription_id: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        subscription = _subscription(console, runtime, subscription_id)
        secret = _service(console, runtime).rotate_secret(subscription)
        return _detail(request, runtime, console, subscription, secret=secret)

    return console_page(request, runtime, session, work, csrf=csrf)


@router.post("/console/webhooks/{subscription_id}/ping")
def ping(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    subscription_id: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        subscription = _subscription(console, runtime, subscription_id)
        _service(console, runtime).ping(subscription)
        return redirect(f"/console/webhooks/{subscription_id}?done=pinged")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.get("/console/webhooks/{subscription_id}/delete")
def confirm_delete(
    request: Request, runtime: RuntimeDep, session: SessionDep, subscription_id: str
) -> Response:
    """What deleting means, before it is done."""

    def work(console: ConsoleSession) -> Response:
        subscription = _subscription(console, runtime, subscription_id)
        return render(
            request,
            runtime,
            console,
            "webhook_delete.html",
            active="webhooks",
            subscription=subscription,
        )

    return console_page(request, runtime, session, work)


@router.post("/console/webhooks/{subscription_id}/delete")
def delete_subscription(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    subscription_id: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        subscription = _subscription(console, runtime, subscription_id)
        _service(console, runtime).delete(subscription)
        return redirect("/console/webhooks")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.post("/console/webhooks/{subscription_id}/deliveries/{delivery_id}/resend")
def resend(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    subscription_id: str,
    delivery_id: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        subscription = _subscription(console, runtime, subscription_id)
        _service(console, runtime).resend(subscription, _id(delivery_id, "delivery"))
        return redirect(f"/console/webhooks/{subscription_id}?done=resent")

    return console_page(request, runtime, session, work, csrf=csrf)
