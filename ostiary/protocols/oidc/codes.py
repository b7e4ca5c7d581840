"""Authorization codes: random, stored as a hash, short-lived, single use."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from ostiary.clients.models import Client
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.protocols.oidc.authorization import AuthorizationRequest
from ostiary.protocols.oidc.models import AuthorizationCode

_NEW_CODE = insert(AuthorizationCode.__table__)


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def issue_code(
    session: OstiarySession,
    client: Client,
    request: AuthorizationRequest,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    context_id: uuid.UUID | None,
    lifetime: timedelta,
) -> str:
    code = secrets.token_urlsafe(32)
    # After the flush of the session and the user that it names.
    session.core().execute(
        _NEW_CODE,
        {
            "code_hash": code_hash(code),
            "client_id": client.id,
            "user_id": user_id,
            "session_id": session_id,
            "context_id": context_id,
            "redirect_uri": request.redirect_uri,
            "scope": " ".join(request.scope),
            "nonce": request.nonce,
            "code_challenge": request.code_challenge,
            "code_challenge_method": request.code_challenge_method,
            "expires_at": utcnow() + lifetime,
        },
    )
    return code


def find_code(session: OstiarySession, code: str) -> AuthorizationCode | None:
    return session.scalars(
        select(AuthorizationCode).where(AuthorizationCode.code_hash == code_hash(code))
    ).one_or_none()


_CODES: Any = AuthorizationCode.__table__
# Marks the code used and returns it, in one statement: of concurrent exchanges exactly one
# gets the row, and a later one (or another client's) gets none.
_CLAIM = (
    update(_CODES)
    .where(
        _CODES.c.code_hash == bindparam("p_hash"),
        _CODES.c.client_id == bindparam("p_client_id"),
        _CODES.c.used_at.is_(None),
    )
    .values(used_at=bindparam("p_now", type_=_CODES.c.used_at.type))
    .returning(
        _CODES.c.id,
        _CODES.c.user_id,
        _CODES.c.session_id,
        _CODES.c.context_id,
        _CODES.c.redirect_uri,
        _CODES.c.scope,
        _CODES.c.nonce,
        _CODES.c.code_challenge,
        _CODES.c.expires_at,
    )
)
_SET_GRANT = (
    update(_CODES)
    .where(_CODES.c.id == bindparam("p_id"))
    .values(grant_id=bindparam("p_grant_id", type_=_CODES.c.grant_id.type))
)


def claim_code(connection: Connection, code: str, client_id: uuid.UUID) -> Any | None:
    """The unused code of this client, marked used now (a row of ``_CLAIM``'s columns); None
    when it is unknown, another client's or used already (``find_code`` tells which)."""
    return connection.execute(
        _CLAIM, {"p_hash": code_hash(code), "p_client_id": client_id, "p_now": utcnow()}
    ).first()


def record_grant(connection: Connection, code_id: uuid.UUID, grant_id: uuid.UUID) -> None:
    """The grant that the code's exchange made: a second use of the code revokes it."""
    connection.execute(_SET_GRANT, {"p_id": code_id, "p_grant_id": grant_id})
