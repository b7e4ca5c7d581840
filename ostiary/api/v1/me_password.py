"""``POST /api/v1/me/password``: the signed-in user changes their own password.

Authenticated like the rest of the API (HTTP Basic, or a bearer token for the ``ostiary``
module), without any admin right. The current password is asked for and counted like a login
attempt (``ostiary.authn.throttle``); the new one must pass the policy. The user's other
sessions end and their tokens are revoked unless ``end_other_sessions`` is false; the session a
bearer token stands on lives on.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep
from ostiary.authn.password_change import PasswordChanges
from ostiary.authn.sessions import SessionService
from ostiary.db.session import OstiarySession
from ostiary.protocols.oidc.tokens import AccessTokens
from ostiary.runtime import Runtime

router = APIRouter(prefix="/me", tags=["self-service"])


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: SecretStr
    new_password: SecretStr
    end_other_sessions: bool = Field(
        True, description="End the user's other sessions and revoke their tokens"
    )


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change my password",
    responses={
        422: {"description": "The current password is wrong, or the new one breaks the policy"},
        429: {"description": "Too many wrong current passwords lately: see Retry-After"},
    },
)
def change_password(
    data: PasswordChange,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    caller: CallerDep,
) -> Response:
    PasswordChanges(runtime, session, caller.actor).change(
        caller.user,
        data.current_password.get_secret_value(),
        data.new_password.get_secret_value(),
        end_other_sessions=data.end_other_sessions,
        current_session_id=_bearer_session(request, session, runtime),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _bearer_session(
    request: Request, session: OstiarySession, runtime: Runtime
) -> uuid.UUID | None:
    """The browser session a bearer token stands on (its ``sid``); None for HTTP Basic."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    valid = AccessTokens(
        session,
        runtime.keys,
        SessionService(session, runtime.settings),
        runtime.settings.issuer.rstrip("/"),
    ).validate(token.strip())
    sid = valid.claims.get("sid") if valid is not None else None
    try:
        return uuid.UUID(sid) if isinstance(sid, str) else None
    except ValueError:
        return None
