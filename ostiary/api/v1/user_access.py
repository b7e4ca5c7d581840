"""A user's effective rights, the contexts they can switch to, and their preferences."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.access.decisions import switchable_contexts
from ostiary.access.modules import ModuleService
from ostiary.access.preferences import PreferenceService
from ostiary.access.schemas import (
    DecisionOut,
    EffectiveRightsOut,
    PreferencesIn,
    PreferencesOut,
    SwitchableContext,
)
from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.contexts.models import ContextType
from ostiary.contexts.services import ContextService
from ostiary.users.models import User
from ostiary.users.services import UserService

router = APIRouter(prefix="/users/{user_id}", tags=["users"])
ReadScope = Annotated[AdminScope, Depends(scope_for(Right.USERS_READ))]


def _user_in_reach(
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    scope: AdminScope,
    user_id: uuid.UUID,
) -> User:
    user = UserService(session, caller.actor, runtime.passwords).get(user_id)
    if not scope.covers_user(caller.memberships_of(user)):
        raise scope.refuse("user", user.id, None)
    return user


@router.get(
    "/effective-rights",
    response_model=EffectiveRightsOut,
    response_model_exclude_none=True,
    summary="A user's effective rights in a context for a module",
)
def effective_rights(
    user_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    scope: ReadScope,
    context: Annotated[uuid.UUID, Query(description="Context id")],
    module: Annotated[str, Query(description="Module key")],
    explain: Annotated[
        bool, Query(description="Say which step and group decided each right")
    ] = False,
    roles: Annotated[
        list[str] | None, Query(description="External role names of a login (step e1)")
    ] = None,
) -> EffectiveRightsOut:
    user = _user_in_reach(session, caller, runtime, scope, user_id)
    where = ContextService(session, caller.actor).get(context)
    scope.require(where)
    rights = runtime.rights.effective(session, user, where, module, external_roles=roles or ())
    return EffectiveRightsOut(
        user_id=user.id,
        context_id=where.id,
        module=module,
        access=rights.access,
        denial=rights.denial,
        rights={key: d.value for key, d in rights.decisions.items()},
        explanation={
            key: DecisionOut(value=d.value, step=str(d.step), group=d.group)
            for key, d in rights.decisions.items()
        }
        if explain
        else None,
    )


@router.get(
    "/switchable-contexts",
    response_model=list[SwitchableContext],
    summary="The contexts a user can switch to, with the modules open to them in each",
)
def list_switchable(
    user_id: uuid.UUID,
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    scope: ReadScope,
) -> list[SwitchableContext]:
    user = _user_in_reach(session, caller, runtime, scope, user_id)
    return [
        SwitchableContext(
            context_id=s.context.id,
            key=s.context.key,
            name=s.context.name,
            type=ContextType(s.context.type),
            number=s.context.number,
            modules=s.modules,
        )
        for s in switchable_contexts(session, runtime.rights, user)
        if scope.covers(s.context)
    ]


def _preference_target(
    session: SessionDep, caller: CallerDep, runtime: RuntimeDep, user_id: uuid.UUID, right: str
) -> User:
    """Users read and write their own preferences; others need the right over them."""
    if caller.user.id == user_id:
        return caller.user
    return _user_in_reach(session, caller, runtime, caller.scope(right), user_id)


@router.get(
    "/preferences/{module}",
    response_model=PreferencesOut,
    summary="A user's preferences in a module",
)
def read_preferences(
    user_id: uuid.UUID, module: str, session: SessionDep, caller: CallerDep, runtime: RuntimeDep
) -> PreferencesOut:
    user = _preference_target(session, caller, runtime, user_id, Right.USERS_READ)
    found = ModuleService(session, caller.actor).get(module)
    return PreferencesOut(
        module=module, values=PreferenceService(session, caller.actor).read(user, found)
    )


@router.put(
    "/preferences/{module}", response_model=PreferencesOut, summary="Set a user's preferences"
)
def write_preferences(
    user_id: uuid.UUID,
    module: str,
    data: PreferencesIn,
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
) -> PreferencesOut:
    user = _preference_target(session, caller, runtime, user_id, Right.USERS_MANAGE)
    found = ModuleService(session, caller.actor).get(module)
    values = PreferenceService(session, caller.actor).write(user, found, data.values)
    return PreferencesOut(module=module, values=values)
