"""``/api/v1/contexts``"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.idempotency import Idempotent
from ostiary.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, next_cursor
from ostiary.api.v1.deps import CallerDep, SessionDep, scope_for
from ostiary.contexts.models import Context, ContextStatus, ContextType
from ostiary.contexts.schemas import ContextCreate, ContextMove, ContextOut, ContextUpdate
from ostiary.contexts.services import ContextQuery, ContextService
from ostiary.contexts.suspension import Suspensions
from ostiary.errors import AlreadyExists, NotFound, RuleViolation

router = APIRouter(prefix="/contexts", tags=["contexts"])
ReadScope = Annotated[AdminScope, Depends(scope_for(Right.CONTEXTS_READ))]
ManageScope = Annotated[AdminScope, Depends(scope_for(Right.CONTEXTS_MANAGE))]


def _visible(service: ContextService, scope: AdminScope, context_id: uuid.UUID) -> Context:
    context = service.get(context_id)
    scope.require(context, what="context")
    return context


@router.get("", response_model=Page[ContextOut], summary="Search contexts")
def search_contexts(
    session: SessionDep,
    caller: CallerDep,
    scope: ReadScope,
    q: Annotated[
        str | None, Query(description="Start of the name, or the exact external number")
    ] = None,
    number: str | None = None,
    type: ContextType | None = None,
    status: ContextStatus | None = None,
    parent: uuid.UUID | None = None,
    subtree_of: Annotated[
        uuid.UUID | None, Query(description="Only this context and those below it")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ContextOut]:
    service = ContextService(session, caller.actor)
    top = _visible(service, scope, subtree_of) if subtree_of else None
    rows = service.search(
        ContextQuery(
            text=q,
            number=number,
            type=type,
            status=status,
            parent_id=parent,
            subtree_of=top,
            visible_paths=scope.visible_paths,
            after_path=decode_cursor(cursor),
            limit=limit,
        )
    )
    items = [ContextOut.model_validate(row) for row in rows]
    return Page(items=items, next_cursor=next_cursor(rows, limit, "path"))


@router.post(
    "",
    response_model=ContextOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a context",
    description="With an external number that exists already, the request is a retry: when it "
    "says the same of that context, the answer is the context (200); otherwise 409 naming "
    "`number`. An `Idempotency-Key` header makes any repeat get the first answer.",
    responses={200: {"description": "The context with this number, as asked for"}},
    dependencies=[Idempotent],
)
def create_context(
    data: ContextCreate,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    scope: ManageScope,
) -> Context:
    service = ContextService(session, caller.actor)
    if data.parent_id is not None:
        try:
            _visible(service, scope, data.parent_id)
        except NotFound:
            raise RuleViolation(
                f"no context with id '{data.parent_id}'", field="parent_id"
            ) from None
    elif not scope.unrestricted:
        raise RuleViolation("a context needs a parent", field="parent_id")
    context, created = service.create_once(data)
    if not created:
        if not scope.covers(context):
            raise AlreadyExists("number is already taken", field="number")
        response.status_code = status.HTTP_200_OK
    return context


@router.get("/{context_id}", response_model=ContextOut, summary="Read a context")
def read_context(
    context_id: uuid.UUID, session: SessionDep, caller: CallerDep, scope: ReadScope
) -> Context:
    return _visible(ContextService(session, caller.actor), scope, context_id)


@router.patch("/{context_id}", response_model=ContextOut, summary="Change a context")
def update_context(
    context_id: uuid.UUID,
    data: ContextUpdate,
    session: SessionDep,
    caller: CallerDep,
    scope: ManageScope,
) -> Context:
    service = ContextService(session, caller.actor)
    return service.update(_visible(service, scope, context_id), data)


@router.post(
    "/{context_id}/move", response_model=ContextOut, summary="Move a context under another parent"
)
def move_context(
    context_id: uuid.UUID,
    data: ContextMove,
    session: SessionDep,
    caller: CallerDep,
    scope: ManageScope,
) -> Context:
    service = ContextService(session, caller.actor)
    context = _visible(service, scope, context_id)
    try:
        parent = _visible(service, scope, data.parent_id)
    except NotFound as exc:
        raise RuleViolation(
            f"no context with id '{data.parent_id}'", field="parent_id", refusal=exc.refusal
        ) from None
    return service.move(context, parent)


@router.post(
    "/{context_id}/suspend",
    response_model=ContextOut,
    summary="Suspend a context: closed to its users, with everything below it",
    dependencies=[Idempotent],
)
def suspend_context(
    context_id: uuid.UUID, session: SessionDep, caller: CallerDep, scope: ManageScope
) -> Context:
    context = _visible(ContextService(session, caller.actor), scope, context_id)
    return Suspensions(session, caller.actor).require_suspend(context)


@router.post(
    "/{context_id}/reactivate",
    response_model=ContextOut,
    summary="Reactivate a suspended context",
    dependencies=[Idempotent],
)
def reactivate_context(
    context_id: uuid.UUID, session: SessionDep, caller: CallerDep, scope: ManageScope
) -> Context:
    context = _visible(ContextService(session, caller.actor), scope, context_id)
    return Suspensions(session, caller.actor).require_reactivate(context, datetime.now(UTC).date())
