"""``/api/v1/registrations`` and ``/api/v1/join-requests``: approve or reject organizations
that registered themselves, and people asking to join an organization.

Both need ``registrations.manage``; a caller who holds it below the root reaches the requests
of the organizations in their subtree (the back office for new organizations under its
tenant, contact persons for their own organization), and others are not found.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.access.guard import GrantGuard
from ostiary.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_id_cursor, next_cursor
from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.registrations.decisions import Decider, Decisions
from ostiary.registrations.models import RegistrationKind, RegistrationState
from ostiary.registrations.schemas import Approval, JoinAsk, RegistrationOut, Rejection
from ostiary.registrations.services import RegistrationService

router = APIRouter(tags=["registrations"])
Scope = Annotated[AdminScope, Depends(scope_for(Right.REGISTRATIONS_MANAGE))]


def _decider(session: SessionDep, caller: CallerDep, runtime: RuntimeDep, scope: Scope) -> Decider:
    return Decider(caller.actor, scope, GrantGuard(session, runtime.rights, caller.user, scope))


DeciderDep = Annotated[Decider, Depends(_decider)]
PATHS = {RegistrationKind.ORGANIZATION: "/registrations", RegistrationKind.JOIN: "/join-requests"}
NOUNS = {RegistrationKind.ORGANIZATION: "registration", RegistrationKind.JOIN: "join request"}


def _routes(kind: RegistrationKind) -> None:
    base, noun = PATHS[kind], NOUNS[kind]

    @router.get(base, response_model=Page[RegistrationOut], summary=f"List {noun}s, newest first")
    def list_requests(
        session: SessionDep,
        runtime: RuntimeDep,
        scope: Scope,
        state: RegistrationState | None = None,
        context: Annotated[uuid.UUID | None, Query(description="Id of the organization")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[RegistrationOut]:
        found = Decisions(session, runtime).search(
            kind,
            visible_paths=scope.visible_paths,
            state=state,
            context_id=context,
            before_id=decode_id_cursor(cursor),
            limit=limit,
        )
        return Page(
            items=[RegistrationOut.of(r) for r in found],
            next_cursor=next_cursor(found, limit, "id"),
        )

    @router.get(f"{base}/{{request_id}}", response_model=RegistrationOut, summary=f"Read a {noun}")
    def read_request(
        request_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, scope: Scope
    ) -> RegistrationOut:
        return RegistrationOut.of(Decisions(session, runtime).get(request_id, kind, scope))

    @router.post(
        f"{base}/{{request_id}}/approve",
        response_model=RegistrationOut,
        summary=f"Approve a {noun}",
    )
    def approve_request(
        request_id: uuid.UUID,
        session: SessionDep,
        runtime: RuntimeDep,
        decider: DeciderDep,
        data: Approval | None = None,
    ) -> RegistrationOut:
        service = Decisions(session, runtime)
        row = service.get(request_id, kind, decider.scope)
        groups = data.groups if data is not None else []
        return RegistrationOut.of(service.approve(row, decider, groups))

    @router.post(
        f"{base}/{{request_id}}/reject", response_model=RegistrationOut, summary=f"Reject a {noun}"
    )
    def reject_request(
        request_id: uuid.UUID,
        data: Rejection,
        session: SessionDep,
        runtime: RuntimeDep,
        decider: DeciderDep,
    ) -> RegistrationOut:
        service = Decisions(session, runtime)
        row = service.get(request_id, kind, decider.scope)
        return RegistrationOut.of(service.reject(row, decider, data.reason))


for _kind in RegistrationKind:
    _routes(_kind)


@router.post(
    "/me/join-requests",
    response_model=RegistrationOut,
    status_code=201,
    summary="Ask to join an organization with the signed-in account",
)
def ask_to_join(
    data: JoinAsk, session: SessionDep, runtime: RuntimeDep, caller: CallerDep
) -> RegistrationOut:
    """The organization is named by its customer number or exact name; it must be an active
    account below the registration parent. The request waits for its contact persons, unless
    the account's address is in one of its e-mail domains and the instance lets those in."""
    row = RegistrationService(session, runtime).ask_to_join(caller.user, data.organization)
    return RegistrationOut.of(row)


@router.post(
    "/me/join-requests/{request_id}/withdraw",
    response_model=RegistrationOut,
    summary="Withdraw the signed-in account's own request to join, while it waits",
)
def withdraw_request(
    request_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, caller: CallerDep
) -> RegistrationOut:
    """Only the person who asked can; anyone else's request is not found. A decided request
    cannot be withdrawn (``409`` naming ``state``)."""
    row = RegistrationService(session, runtime).withdraw(caller.user, request_id)
    return RegistrationOut.of(row)
