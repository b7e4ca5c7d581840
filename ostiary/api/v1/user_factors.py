"""``/api/v1/users/{id}/second-factors``: what an administrator sees of a user's methods, and
resetting them (a lost phone or key) with ``users.two_factor``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.authn.factors.schemas import FactorsOut
from ostiary.authn.factors.services import FactorService
from ostiary.users.models import User
from ostiary.users.services import UserService

router = APIRouter(prefix="/users/{user_id}/second-factors", tags=["users"])
ReadScope = Annotated[AdminScope, Depends(scope_for(Right.USERS_READ))]
TwoFactorScope = Annotated[AdminScope, Depends(scope_for(Right.USERS_TWO_FACTOR))]


def _in_reach(
    session: SessionDep,
    runtime: RuntimeDep,
    caller: CallerDep,
    scope: AdminScope,
    user_id: uuid.UUID,
) -> User:
    user = UserService(session, caller.actor, runtime.passwords).get(user_id)
    if not scope.covers_user(caller.memberships_of(user)):
        raise scope.refuse("user", user.id, None)
    return user


@router.get("", response_model=FactorsOut, summary="A user's second factors")
def read(
    user_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    caller: CallerDep,
    scope: ReadScope,
) -> FactorsOut:
    user = _in_reach(session, runtime, caller, scope, user_id)
    return FactorService(session, runtime, caller.actor).overview(user)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove the authenticator app, recovery codes and passkeys a user enrolled",
)
def reset(
    user_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    caller: CallerDep,
    scope: TwoFactorScope,
) -> Response:
    user = _in_reach(session, runtime, caller, scope, user_id)
    FactorService(session, runtime, caller.actor).reset(user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
