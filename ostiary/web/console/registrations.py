"""``/console/registrations`` and ``/console/join-requests``: organizations that registered
themselves, and people asking to join an organization; a request's page with what was
registered, approving and rejecting it. The same services and the same checks as
``/api/v1/registrations`` and ``/api/v1/join-requests`` (``registrations.manage``, in the
caller's subtree: the requests of other organizations are not found, and that is audited)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ostiary.access.catalogue import Right
from ostiary.access.groups import GroupService
from ostiary.access.guard import GrantGuard
from ostiary.api.pagination import decode_id_cursor, next_cursor
from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.contexts.models import Context
from ostiary.errors import NotFound, OstiaryError
from ostiary.registrations.decisions import Decider, Decisions
from ostiary.registrations.models import Registration, RegistrationKind, RegistrationState
from ostiary.text import Text
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
MAX_REASON = 2000
# Waiting requests come first: the list shows them unless another state is chosen.
STATES = [
    RegistrationState.PENDING,
    RegistrationState.APPROVED,
    RegistrationState.REJECTED,
    RegistrationState.WITHDRAWN,
    RegistrationState.UNVERIFIED,
]
ANY = "any"
PATHS = {
    RegistrationKind.ORGANIZATION: "/console/registrations",
    RegistrationKind.JOIN: "/console/join-requests",
}
SECTIONS = {RegistrationKind.ORGANIZATION: "registrations", RegistrationKind.JOIN: "join"}


def _decisions(console: ConsoleSession, runtime: RuntimeDep) -> Decisions:
    return Decisions(console.caller.session, runtime)


def _request(
    console: ConsoleSession, runtime: RuntimeDep, kind: RegistrationKind, request_id: str
) -> Registration:
    """The request if the caller's ``registrations.manage`` reaches its organization; else "not
    found", audited."""
    scope = console.scope(Right.REGISTRATIONS_MANAGE)
    try:
        parsed = uuid.UUID(request_id)
    except ValueError:
        raise NotFound(
            Text("no request with id '{request_id}'", request_id=request_id), field="id"
        ) from None
    return _decisions(console, runtime).get(parsed, kind, scope)


def _list(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    kind: RegistrationKind,
    state: str,
    cursor: str,
) -> Response:
    def work(console: ConsoleSession) -> Response:
        scope = console.scope(Right.REGISTRATIONS_MANAGE)
        chosen = state if state in (*STATES, ANY) else RegistrationState.PENDING
        rows = _decisions(console, runtime).search(
            kind,
            visible_paths=scope.visible_paths,
            state=None if chosen == ANY else RegistrationState(chosen),
            before_id=decode_id_cursor(cursor or None),
            limit=PAGE_SIZE,
        )
        partial = request.headers.get("hx-request")
        return render(
            request,
            runtime,
            console,
            "registrations_rows.html" if partial else "registrations.html",
            active=SECTIONS[kind],
            kind=str(kind),
            base=PATHS[kind],
            rows=rows,
            state=str(chosen),
            states=[str(s) for s in STATES],
            next_cursor=next_cursor(rows, PAGE_SIZE, "id"),
        )

    return console_page(request, runtime, session, work)


def _detail(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    row: Registration,
    *,
    status: int = 200,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    typed: dict[str, object] | None = None,
) -> Response:
    session = console.caller.session
    kind = RegistrationKind(row.kind)
    organization = session.get(Context, row.context_id)
    assert organization is not None
    pending = row.state == RegistrationState.PENDING
    own = row.user_id is not None and row.user_id == console.user.id
    groups = []
    if pending and kind is RegistrationKind.JOIN:
        groups = GroupService(session, console.caller.actor).list(organization)
    return render(
        request,
        runtime,
        console,
        "registration.html",
        status=status,
        active=SECTIONS[kind],
        kind=str(kind),
        base=PATHS[kind],
        row=row,
        organization=organization,
        # Nobody decides their own request; the service says so again.
        may_decide=pending and not own,
        groups=groups,
        notice=notice,
        errors=errors or {},
        typed={"reason": "", "groups": [], **(typed or {})},
    )


def _decide(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    kind: RegistrationKind,
    request_id: str,
    csrf: str,
    action: str,
    reason: str,
    groups: list[str],
) -> Response:
    typed: dict[str, object] = {"reason": reason, "groups": groups}

    def work(console: ConsoleSession) -> Response:
        row = _request(console, runtime, kind, request_id)
        scope = console.scope(Right.REGISTRATIONS_MANAGE)
        decider = Decider(
            console.caller.actor, scope, GrantGuard(session, runtime.rights, console.user, scope)
        )
        service = _decisions(console, runtime)
        if action == "reject" and len(reason.strip()) > MAX_REASON:
            errors = {"reason": "At most 2000 characters."}
            return _detail(request, runtime, console, row, status=422, errors=errors, typed=typed)
        try:
            if action == "approve":
                service.approve(row, decider, groups)
            elif action == "reject":
                service.reject(row, decider, reason.strip() or None)
            else:
                raise NotFound(Text("no action '{action}'", action=action))
        except OstiaryError as exc:
            if exc.field is None or exc.refusal is not None or exc.status in (403, 404):
                raise
            session.rollback()
            field = "groups" if exc.field.startswith("groups") else "decision"
            errors = {field: exc.detail}
            fresh = _request(console, runtime, kind, request_id)
            return _detail(
                request, runtime, console, fresh, status=exc.status, errors=errors, typed=typed
            )
        return redirect(f"{PATHS[kind]}/{row.id}?done={action}")

    return console_page(request, runtime, session, work, csrf=csrf)


def _routes(kind: RegistrationKind) -> None:
    base = PATHS[kind]

    @router.get(base, name=f"console-{SECTIONS[kind]}")
    def list_requests(
        request: Request,
        runtime: RuntimeDep,
        session: SessionDep,
        state: str = RegistrationState.PENDING,
        cursor: str = "",
    ) -> Response:
        return _list(request, runtime, session, kind, state, cursor)

    @router.get(f"{base}/{{request_id}}", name=f"console-{SECTIONS[kind]}-one")
    def show_request(
        request: Request, runtime: RuntimeDep, session: SessionDep, request_id: str, done: str = ""
    ) -> Response:
        def work(console: ConsoleSession) -> Response:
            row = _request(console, runtime, kind, request_id)
            return _detail(request, runtime, console, row, notice=done or None)

        return console_page(request, runtime, session, work)

    @router.post(f"{base}/{{request_id}}/{{action}}", name=f"console-{SECTIONS[kind]}-decide")
    def decide(
        request: Request,
        runtime: RuntimeDep,
        session: SessionDep,
        request_id: str,
        action: str,
        csrf: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "",
        groups: Annotated[list[str] | None, Form()] = None,
    ) -> Response:
        return _decide(
            request, runtime, session, kind, request_id, csrf, action, reason, groups or []
        )


for _kind in RegistrationKind:
    _routes(_kind)
