"""``/api/v1/users/{id}/sign-in-throttle``: how far a user's account is throttled (failed
passwords, second-factor codes, reset requests; see ``ostiary.authn.throttle``), and clearing it.

Reading needs ``users.read``, clearing ``users.manage``, both for a user within the caller's
reach. Clearing is audited; it ends the waits of the account, not those of client addresses.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, Field

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.api.v1.users import Service, visible_user
from ostiary.authn.throttle import Throttle, account_key
from ostiary.db.types import utcnow

router = APIRouter(prefix="/users", tags=["users"])
ReadScope = Annotated[AdminScope, Depends(scope_for(Right.USERS_READ))]
ManageScope = Annotated[AdminScope, Depends(scope_for(Right.USERS_MANAGE))]


class ThrottleKindOut(BaseModel):
    kind: str = Field(description="password, code or reset")
    failures: int = Field(description="Failures in the current streak")
    first_failure_at: datetime
    last_failure_at: datetime
    throttled_until: datetime | None = Field(
        description="No attempt of this kind is verified before then; null: none waits now"
    )


class SignInThrottleOut(BaseModel):
    user_id: uuid.UUID
    throttled_until: datetime | None = Field(
        description="The latest wait of any kind still running, or null"
    )
    failures: int = Field(description="Failed passwords in the current streak")
    kinds: list[ThrottleKindOut]


@router.get(
    "/{user_id}/sign-in-throttle",
    response_model=SignInThrottleOut,
    summary="How far the user's sign-in is throttled",
)
def read_throttle(
    user_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    caller: CallerDep,
    scope: ReadScope,
    service: Service,
) -> SignInThrottleOut:
    user = visible_user(caller, service, scope, user_id)
    now = utcnow()
    kinds = [
        ThrottleKindOut(
            kind=row.kind,
            failures=row.failures,
            first_failure_at=row.first_failure_at,
            last_failure_at=row.last_failure_at,
            throttled_until=row.blocked_until
            if row.blocked_until and row.blocked_until > now
            else None,
        )
        for row in Throttle(session, runtime.settings).state(account_key(user.id))
    ]
    waits = [k.throttled_until for k in kinds if k.throttled_until is not None]
    return SignInThrottleOut(
        user_id=user.id,
        throttled_until=max(waits) if waits else None,
        failures=next((k.failures for k in kinds if k.kind == "password"), 0),
        kinds=kinds,
    )


@router.delete(
    "/{user_id}/sign-in-throttle",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End the user's throttling (audited)",
)
def clear_throttle(
    user_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    caller: CallerDep,
    scope: ManageScope,
    service: Service,
) -> Response:
    user = visible_user(caller, service, scope, user_id)
    Throttle(session, runtime.settings).clear(
        account_key(user.id), actor=caller.actor, target_id=user.id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
