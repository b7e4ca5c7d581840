"""``/console/contexts``: the context tree within the caller's reach (``contexts.read``), in
tree order and a page at a time; creating a context under one in reach, moving one under
another parent in reach, suspending and reactivating (``contexts.manage``), through the
services of ``/api/v1/contexts``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ostiary.access.catalogue import Right
from ostiary.api.pagination import decode_cursor, next_cursor
from ostiary.api.v1.deps import RuntimeDep, SessionDep, keep_refusal
from ostiary.contexts.models import Context, ContextType
from ostiary.contexts.schemas import ContextCreate
from ostiary.contexts.services import ContextQuery, ContextService
from ostiary.contexts.suspension import Suspensions
from ostiary.errors import NotFound, OstiaryError
from ostiary.text import Text
from ostiary.web.console.forms import field_error, invalid
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
INVALID = {
    "name": "Enter a name of at most 200 characters.",
    "type": "Choose a type.",
    "number": "At most 100 characters.",
    "parent_id": "Choose a parent in your reach.",
    "move_id": "Choose a context in your reach.",
}


def _context(console: ConsoleSession, right: str, context_id: str) -> Context:
    """The context if ``right`` reaches it; else "not found", audited."""
    scope = console.scope(right)
    try:
        parsed = uuid.UUID(context_id)
    except ValueError:
        raise NotFound(
            Text("no context with id '{context_id}'", context_id=context_id), field="id"
        ) from None
    context = ContextService(console.caller.session, console.caller.actor).get(parsed)
    scope.require(context, what="context")
    return context


def _page(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    q: str = "",
    cursor: str = "",
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    scope = console.scope(Right.CONTEXTS_READ)
    service = ContextService(console.caller.session, console.caller.actor)
    rows = service.search(
        ContextQuery(
            text=q or None,
            visible_paths=scope.visible_paths,
            after_path=decode_cursor(cursor) if cursor else None,
            limit=PAGE_SIZE,
        )
    )
    # Groups and policies are seen with ``users.read`` where it reaches (as at the API).
    readers = console.scope(Right.USERS_READ) if console.may(Right.USERS_READ) else None
    return render(
        request,
        runtime,
        console,
        "contexts.html",
        status=status,
        active="contexts",
        contexts=rows,
        top=min((c.depth for c in rows), default=0),
        q=q,
        next_cursor=next_cursor(rows, PAGE_SIZE, "path"),
        may_manage=console.may(Right.CONTEXTS_MANAGE),
        with_groups={c.id for c in rows if readers is not None and readers.covers(c)},
        types=[str(t) for t in ContextType if t is not ContextType.ROOT],
        errors=errors or {},
        typed={
            "name": "",
            "type": "",
            "number": "",
            "parent_id": str(console.context.id),
            "move_id": "",
            "move_parent_id": "",
        }
        | (typed or {}),
    )


@router.get("/console/contexts")
def list_contexts(
    request: Request, runtime: RuntimeDep, session: SessionDep, q: str = "", cursor: str = ""
) -> Response:
    return console_page(
        request, runtime, session, lambda console: _page(request, runtime, console, q, cursor)
    )


@router.post("/console/contexts")
def create_context(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    type: Annotated[str, Form()] = "",
    number: Annotated[str, Form()] = "",
    parent_id: Annotated[str, Form()] = "",
) -> Response:
    typed = {"name": name, "type": type, "number": number, "parent_id": parent_id}

    def work(console: ConsoleSession) -> Response:
        try:
            parent = _context(console, Right.CONTEXTS_MANAGE, parent_id)
        except NotFound as exc:
            if exc.refusal is not None:
                keep_refusal(session, exc.refusal)
            errors = {"parent_id": INVALID["parent_id"]}
            return _page(request, runtime, console, status=422, errors=errors, typed=typed)
        try:
            data = ContextCreate(
                name=name.strip(),
                type=type,  # type: ignore[arg-type]
                number=number.strip() or None,
                parent_id=parent.id,
            )
        except ValidationError as exc:
            errors = invalid(exc, INVALID)
            return _page(request, runtime, console, status=422, errors=errors, typed=typed)
        try:
            ContextService(session, console.caller.actor).create(data)
        except OstiaryError as exc:
            errors = field_error(console, exc)
            return _page(request, runtime, console, status=exc.status, errors=errors, typed=typed)
        return redirect("/console/contexts")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.post("/console/contexts/move")
def move_context(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    context_id: Annotated[str, Form()] = "",
    parent_id: Annotated[str, Form()] = "",
) -> Response:
    """As ``POST /api/v1/contexts/{id}/move``: both in reach (else refused and audited); the
    service refuses a cycle and a parent of the wrong type, and its message goes next to the
    field."""
    typed = {"move_id": context_id, "move_parent_id": parent_id}

    def work(console: ConsoleSession) -> Response:
        def again(field: str, message: str, status: int = 422) -> Response:
            errors = {field: message}
            return _page(request, runtime, console, status=status, errors=errors, typed=typed)

        try:
            context = _context(console, Right.CONTEXTS_MANAGE, context_id)
        except NotFound as exc:
            if exc.refusal is not None:
                keep_refusal(session, exc.refusal)
            return again("move_id", INVALID["move_id"])
        try:
            parent = _context(console, Right.CONTEXTS_MANAGE, parent_id)
        except NotFound as exc:
            if exc.refusal is not None:
                keep_refusal(session, exc.refusal)
            return again("move_parent_id", INVALID["parent_id"])
        try:
            ContextService(session, console.caller.actor).move(context, parent)
        except OstiaryError as exc:
            shown_at = "move_parent_id" if exc.field == "parent_id" else "move_id"
            [(field, detail)] = field_error(console, exc, shown_at=shown_at).items()
            return again(field, detail, exc.status)
        return redirect("/console/contexts")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.post("/console/contexts/{context_id}/{action}")
def change_status(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    context_id: str,
    action: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        context = _context(console, Right.CONTEXTS_MANAGE, context_id)
        suspensions = Suspensions(session, console.caller.actor)
        if action == "suspend":
            suspensions.require_suspend(context)
        elif action == "reactivate":
            suspensions.require_reactivate(context, datetime.now(UTC).date())
        else:
            raise NotFound(Text("no action '{action}'", action=action))
        return redirect("/console/contexts")

    return console_page(request, runtime, session, work, csrf=csrf)
