"""``/api/v1/contexts/{context_id}/groups`` and ``/api/v1/contexts/{context_id}/policy``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.access.groups import GroupService
from ostiary.access.guard import GrantGuard
from ostiary.access.models import Acl, UserGroup
from ostiary.access.policies import PolicyService, require_settable
from ostiary.access.rightsets import RightSets, compose
from ostiary.access.schemas import GroupCreate, GroupOut, GroupUpdate, PolicyOut, RightsSource
from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.contexts.models import Context
from ostiary.contexts.services import ContextService
from ostiary.users.schemas import UserOut
from ostiary.users.services import UserService

router = APIRouter(prefix="/contexts/{context_id}", tags=["groups and policies"])
ReadScope = Annotated[AdminScope, Depends(scope_for(Right.USERS_READ))]
GroupScope = Annotated[AdminScope, Depends(scope_for(Right.GROUPS_MANAGE))]
PolicyScope = Annotated[AdminScope, Depends(scope_for(Right.POLICIES_MANAGE))]


def _context(
    session: SessionDep, caller: CallerDep, scope: AdminScope, context_id: uuid.UUID
) -> Context:
    context = ContextService(session, caller.actor).get(context_id)
    scope.require(context)
    return context


def _group_out(session: SessionDep, group: UserGroup) -> GroupOut:
    rights = RightSets(session).describe((r.acl, r.value) for r in group.rights)
    return GroupOut(
        id=group.id,
        context_id=group.context_id,
        name=group.name,
        role=group.role,
        rights=rights,
        members=len(group.members),
    )


def _guard(
    session: SessionDep, caller: CallerDep, runtime: RuntimeDep, scope: AdminScope
) -> GrantGuard:
    return GrantGuard(session, runtime.rights, caller.user, scope)


@router.get("/groups", response_model=list[GroupOut], summary="List the groups of a context")
def list_groups(
    context_id: uuid.UUID, session: SessionDep, caller: CallerDep, scope: ReadScope
) -> list[GroupOut]:
    context = _context(session, caller, scope, context_id)
    service = GroupService(session, caller.actor)
    return [_group_out(session, g) for g in service.list(context)]


@router.post("/groups", response_model=GroupOut, status_code=201, summary="Create a group")
def create_group(
    context_id: uuid.UUID,
    data: GroupCreate,
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    scope: GroupScope,
) -> GroupOut:
    context = _context(session, caller, scope, context_id)
    values = compose(
        session, template_key=data.template, rights=data.rights, context_type=context.type
    )
    service = GroupService(session, caller.actor)
    group = service.create(
        context, data.name, data.role, values, _guard(session, caller, runtime, scope)
    )
    return _group_out(session, group)


@router.get("/groups/{group_id}", response_model=GroupOut, summary="Read a group")
def read_group(
    context_id: uuid.UUID,
    group_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    scope: ReadScope,
) -> GroupOut:
    service = GroupService(session, caller.actor)
    group = service.get(_context(session, caller, scope, context_id), group_id)
    return _group_out(session, group)


@router.patch(
    "/groups/{group_id}", response_model=GroupOut, summary="Rename a group or change its role"
)
def update_group(
    context_id: uuid.UUID,
    group_id: uuid.UUID,
    data: GroupUpdate,
    session: SessionDep,
    caller: CallerDep,
    scope: GroupScope,
) -> GroupOut:
    service = GroupService(session, caller.actor)
    group = service.get(_context(session, caller, scope, context_id), group_id)
    service.rename(group, name=data.name, role=data.role, fields=data.model_fields_set)
    return _group_out(session, group)


@router.put("/groups/{group_id}/rights", response_model=GroupOut, summary="Set a group's rights")
def set_group_rights(
    context_id: uuid.UUID,
    group_id: uuid.UUID,
    data: RightsSource,
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    scope: GroupScope,
) -> GroupOut:
    """The group's rights become exactly these: a template's values (copied, not linked) with
    ``rights`` over them."""
    context = _context(session, caller, scope, context_id)
    service = GroupService(session, caller.actor)
    group = service.get(context, group_id)
    values = compose(
        session, template_key=data.template, rights=data.rights, context_type=context.type
    )
    service.set_rights(group, context, values, _guard(session, caller, runtime, scope))
    session.refresh(group)
    return _group_out(session, group)


@router.delete("/groups/{group_id}", status_code=204, summary="Delete a group")
def delete_group(
    context_id: uuid.UUID,
    group_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    scope: GroupScope,
) -> Response:
    service = GroupService(session, caller.actor)
    service.delete(service.get(_context(session, caller, scope, context_id), group_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/groups/{group_id}/members", response_model=list[UserOut], summary="List a group's members"
)
def list_members(
    context_id: uuid.UUID,
    group_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    scope: ReadScope,
) -> list[UserOut]:
    service = GroupService(session, caller.actor)
    group = service.get(_context(session, caller, scope, context_id), group_id)
    return [UserOut.of(u) for u in service.members(group)]


@router.put(
    "/groups/{group_id}/members/{user_id}", status_code=204, summary="Add a member of the context"
)
def add_member(
    context_id: uuid.UUID,
    group_id: uuid.UUID,
    user_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    scope: GroupScope,
) -> Response:
    context = _context(session, caller, scope, context_id)
    service = GroupService(session, caller.actor)
    group = service.get(context, group_id)
    user = UserService(session, caller.actor, runtime.passwords).get(user_id)
    service.add_member(group, context, user, _guard(session, caller, runtime, scope))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/groups/{group_id}/members/{user_id}", status_code=204, summary="Remove a member")
def remove_member(
    context_id: uuid.UUID,
    group_id: uuid.UUID,
    user_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    scope: GroupScope,
) -> Response:
    service = GroupService(session, caller.actor)
    group = service.get(_context(session, caller, scope, context_id), group_id)
    user = UserService(session, caller.actor, runtime.passwords).get(user_id)
    service.remove_member(group, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _policy_out(session: SessionDep, service: PolicyService, context: Context) -> PolicyOut:
    values = service.values(context)
    acls = (
        {acl.id: acl for acl in session.query(Acl).filter(Acl.id.in_(list(values)))}
        if values
        else {}
    )
    rights = RightSets(session).describe((acls[a], v) for a, v in values.items())
    return PolicyOut(context_id=context.id, active=context.has_access_policy, rights=rights)


def _policy_context(
    session: SessionDep, caller: CallerDep, scope: AdminScope, context_id: uuid.UUID
) -> Context:
    """A policy caps the people who set policies below it, so it is set from above."""
    context = _context(session, caller, scope, context_id)
    require_settable(scope, context)
    return context


@router.get("/policy", response_model=PolicyOut, summary="Read a context's access policy")
def read_policy(
    context_id: uuid.UUID, session: SessionDep, caller: CallerDep, scope: ReadScope
) -> PolicyOut:
    context = _context(session, caller, scope, context_id)
    return _policy_out(session, PolicyService(session, caller.actor), context)


@router.put("/policy", response_model=PolicyOut, summary="Set a context's access policy")
def set_policy(
    context_id: uuid.UUID,
    data: RightsSource,
    session: SessionDep,
    caller: CallerDep,
    scope: PolicyScope,
) -> PolicyOut:
    context = _policy_context(session, caller, scope, context_id)
    values = compose(
        session, template_key=data.template, rights=data.rights, context_type=context.type
    )
    service = PolicyService(session, caller.actor)
    service.set(context, values)
    return _policy_out(session, service, context)


@router.delete("/policy", status_code=204, summary="Remove a context's access policy")
def clear_policy(
    context_id: uuid.UUID, session: SessionDep, caller: CallerDep, scope: PolicyScope
) -> Response:
    PolicyService(session, caller.actor).clear(_policy_context(session, caller, scope, context_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
