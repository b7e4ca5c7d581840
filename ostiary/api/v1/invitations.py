"""``/api/v1/invitations``: invite people into contexts, one at a time or in batches.

Needs ``invitations.manage``; callers who hold it below the root reach the invitations of the
contexts in their subtree, and offer only groups whose rights they could grant themselves.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_id_cursor, next_cursor
from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.db.types import utcnow
from ostiary.invitations.models import InvitationState
from ostiary.invitations.schemas import BatchOut, InvitationBatch, InvitationCreate, InvitationOut
from ostiary.invitations.services import InvitationService, Inviter, inviter_for

router = APIRouter(prefix="/invitations", tags=["invitations"])
Scope = Annotated[AdminScope, Depends(scope_for(Right.INVITATIONS_MANAGE))]


def _inviter(session: SessionDep, caller: CallerDep, runtime: RuntimeDep, scope: Scope) -> Inviter:
    return inviter_for(session, runtime, caller.user, caller.actor, scope)


InviterDep = Annotated[Inviter, Depends(_inviter)]


@router.post("", response_model=InvitationOut, status_code=201, summary="Invite a person")
def create_invitation(
    data: InvitationCreate, session: SessionDep, runtime: RuntimeDep, inviter: InviterDep
) -> InvitationOut:
    invitation = InvitationService(session, runtime).create(data, inviter)
    return InvitationOut.of(invitation, utcnow())


@router.post("/batch", response_model=BatchOut, summary="Invite many people, each on their own")
def create_batch(
    data: InvitationBatch, session: SessionDep, runtime: RuntimeDep, inviter: InviterDep
) -> BatchOut:
    """One result per entry, in order: ``created`` with the invitation's id, or ``failed``
    with the problem of that entry (its ``field`` names the entry's field). A bad entry never
    fails the others; entries are written in chunks, each in a transaction of its own."""
    results = InvitationService(session, runtime).batch(data.entries, inviter)
    created = sum(1 for r in results if r.outcome == "created")
    return BatchOut(created=created, failed=len(results) - created, results=results)


@router.get("", response_model=Page[InvitationOut], summary="List invitations, newest first")
def list_invitations(
    session: SessionDep,
    runtime: RuntimeDep,
    scope: Scope,
    context: Annotated[uuid.UUID | None, Query(description="Id of the context")] = None,
    state: InvitationState | None = None,
    email: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[InvitationOut]:
    found = InvitationService(session, runtime).search(
        visible_paths=scope.visible_paths,
        context_id=context,
        state=state,
        email=email,
        before_id=decode_id_cursor(cursor),
        limit=limit,
    )
    now = utcnow()
    return Page(
        items=[InvitationOut.of(i, now) for i in found], next_cursor=next_cursor(found, limit, "id")
    )


@router.get("/{invitation_id}", response_model=InvitationOut, summary="Read an invitation")
def read_invitation(
    invitation_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, scope: Scope
) -> InvitationOut:
    invitation = InvitationService(session, runtime).get(invitation_id, scope)
    return InvitationOut.of(invitation, utcnow())


@router.post(
    "/{invitation_id}/resend",
    response_model=InvitationOut,
    summary="Send the invitation again with a new link; the old link stops working",
)
def resend_invitation(
    invitation_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, inviter: InviterDep
) -> InvitationOut:
    service = InvitationService(session, runtime)
    invitation = service.resend(service.get(invitation_id, inviter.scope), inviter)
    return InvitationOut.of(invitation, utcnow())


@router.post(
    "/{invitation_id}/revoke", response_model=InvitationOut, summary="Withdraw an invitation"
)
def revoke_invitation(
    invitation_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, inviter: InviterDep
) -> InvitationOut:
    service = InvitationService(session, runtime)
    invitation = service.revoke(service.get(invitation_id, inviter.scope), inviter.actor)
    return InvitationOut.of(invitation, utcnow())
