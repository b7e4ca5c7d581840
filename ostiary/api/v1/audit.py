"""``/api/v1/audit-events``"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

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
from ostiary.audit.schemas import AuditEventOut
from ostiary.audit.services import AuditLog, AuditQuery

router = APIRouter(prefix="/audit-events", tags=["audit"])


@router.get("", response_model=Page[AuditEventOut], summary="Read the audit log, newest first")
def search_events(
    session: SessionDep,
    scope: Annotated[AdminScope, Depends(scope_for(Right.AUDIT_READ))],
    actor: Annotated[uuid.UUID | None, Query(description="Id of the user who acted")] = None,
    target: Annotated[str | None, Query(description="Id of the object acted on")] = None,
    context: uuid.UUID | None = None,
    action: Annotated[str | None, Query(description="e.g. user.created")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[AuditEventOut]:
    before_id = decode_id_cursor(cursor)
    events = AuditLog(session).search(
        AuditQuery(
            actor_id=actor,
            target_id=target,
            context_id=context,
            action=action,
            since=since,
            until=until,
            before_id=before_id,
            visible_paths=scope.visible_paths,
            limit=limit,
        )
    )
    return Page(
        items=[AuditEventOut.model_validate(e) for e in events],
        next_cursor=next_cursor(events, limit, "id"),
    )
