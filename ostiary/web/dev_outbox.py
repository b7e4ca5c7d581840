"""``/dev/outbox``: the messages that went to the local development outbox, readable in full.

Served only while some channel delivers to the outbox (no SMTP server or SMS gateway configured
for it, and ``OSTIARY_DEV_OUTBOX`` on), and only to callers on this machine.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import and_, or_, select

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.errors import NotFound
from ostiary.messages.delivery import delivery_mode
from ostiary.messages.models import Message, MessageState
from ostiary.messages.purposes import Channel
from ostiary.runtime import Runtime
from ostiary.web.templating import templates

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
SHOWN = 200


def _outbox_channels(runtime: Runtime) -> list[Channel]:
    return [c for c in Channel if delivery_mode(runtime.settings, c) == "outbox"]


def _check(request: Request, runtime: Runtime) -> list[Channel]:
    """The channels in the outbox; the page is absent when none is, or for other machines."""
    channels = _outbox_channels(runtime)
    host = request.client.host if request.client else ""
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not channels or not local:
        raise NotFound("not found")
    return channels


def _messages(session: SessionDep, channels: list[Channel]) -> list[Message]:
    pending_here = and_(Message.state == MessageState.PENDING, Message.channel.in_(channels))
    stmt = (
        select(Message)
        .where(or_(Message.transport == "outbox", pending_here))
        .order_by(Message.id.desc())
        .limit(SHOWN)
    )
    return list(session.scalars(stmt))


def _json(message: Message) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "purpose": message.purpose,
        "channel": message.channel,
        "language": message.language,
        "to": message.recipient,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "state": message.state,
        "created_at": message.created_at.isoformat(),
    }


@router.get("/dev/outbox.json")
def outbox_json(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    channels = _check(request, runtime)
    items = [_json(m) for m in _messages(session, channels)]
    return JSONResponse({"items": items}, headers=NO_STORE)


@router.get("/dev/outbox")
def outbox_page(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    channels = _check(request, runtime)
    return templates.TemplateResponse(
        request,
        "dev_outbox.html",
        {"messages": _messages(session, channels), "channels": channels},
        headers=NO_STORE,
    )


@router.get("/dev/outbox/{message_id}")
def outbox_message(
    message_id: uuid.UUID, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Response:
    channels = _check(request, runtime)
    message = session.get(Message, message_id)
    if message is None or not (
        message.transport == "outbox"
        or (message.state == MessageState.PENDING and message.channel in channels)
    ):
        raise NotFound(f"no message with id '{message_id}' in the outbox")
    return templates.TemplateResponse(
        request, "dev_outbox.html", {"message": message, "channels": channels}, headers=NO_STORE
    )
