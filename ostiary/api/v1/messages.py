"""``/api/v1/messages``: the outbox, for following what was sent and what failed.

Needs ``messages.manage``; callers who hold it below the root see the messages about contexts
in their reach. Message contents (codes, links) are never shown, and addresses only masked.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Page,
    decode_id_cursor,
    next_cursor,
)
from ostiary.api.v1.deps import SessionDep, scope_for
from ostiary.messages.schemas import MessageOut
from ostiary.messages.services import MessageService

router = APIRouter(prefix="/messages", tags=["messages"])
Scope = Annotated[AdminScope, Depends(scope_for(Right.MESSAGES_MANAGE))]


@router.get("", response_model=Page[MessageOut], summary="List the outbox, newest first")
def list_messages(
    session: SessionDep,
    scope: Scope,
    state: Literal["pending", "sent", "failed"] | None = None,
    purpose: str | None = None,
    channel: Literal["email", "sms"] | None = None,
    user: Annotated[uuid.UUID | None, Query(description="Id of the user it was sent to")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[MessageOut]:
    before_id = decode_id_cursor(cursor)
    messages = MessageService(session).search(
        state=state,
        purpose=purpose,
        channel=channel,
        user_id=user,
        before_id=before_id,
        visible_paths=scope.visible_paths,
        limit=limit,
    )
    return Page(
        items=[MessageOut.of(m) for m in messages], next_cursor=next_cursor(messages, limit, "id")
    )


@router.get("/{message_id}", response_model=MessageOut, summary="Read a message's state")
def read_message(message_id: uuid.UUID, session: SessionDep, scope: Scope) -> MessageOut:
    return MessageOut.of(MessageService(session).get(message_id, scope.visible_paths))
