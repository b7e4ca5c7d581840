"""Authorization codes: random, stored as a hash, short-lived, single use."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from ostiary.clients.models import Client
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.protocols.oidc.authorization import AuthorizationRequest
from ostiary.protocols.oidc.models import AuthorizationCode


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
    session.add(
        AuthorizationCode(
            code_hash=code_hash(code),
            client_id=client.id,
            user_id=user_id,
            session_id=session_id,
            context_id=context_id,
            redirect_uri=request.redirect_uri,
            scope=" ".join(request.scope),
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            expires_at=utcnow() + lifetime,
        )
    )
    return code


def find_code(session: OstiarySession, code: str) -> AuthorizationCode | None:
    return session.scalars(
        select(AuthorizationCode).where(AuthorizationCode.code_hash == code_hash(code))
    ).one_or_none()


def consume_code(session: OstiarySession, code: AuthorizationCode) -> bool:
    """Mark the code used; of concurrent exchanges exactly one succeeds."""
    result = session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.id == code.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
