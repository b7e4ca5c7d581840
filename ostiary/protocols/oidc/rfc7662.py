"""Token introspection (RFC 7662) for access and refresh tokens."""

from __future__ import annotations

from typing import Any

from ostiary.authn.sessions import SessionService
from ostiary.clients.models import Client
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.protocols.oidc.models import Grant
from ostiary.protocols.oidc.tokens import AccessTokens, find_refresh, grant_alive

INACTIVE: dict[str, Any] = {"active": False}


def introspect(
    session: OstiarySession,
    tokens: AccessTokens,
    sessions: SessionService,
    caller: Client,
    token: str,
    hint: str | None,
) -> dict[str, Any]:
    """What the token stands for, or only ``active: false`` (never why)."""
    order = (
        ("refresh_token", "access_token")
        if hint == "refresh_token"
        else ("access_token", "refresh_token")
    )
    for kind in order:
        found = (
            _access(tokens, token) if kind == "access_token" else _refresh(session, sessions, token)
        )
        if found is not None:
            return found
    return INACTIVE


def _access(tokens: AccessTokens, token: str) -> dict[str, Any] | None:
    valid = tokens.validate(token)
    if valid is None:
        return None
    claims = valid.claims
    answer = {
        "active": True,
        "token_type": "Bearer",
        "username": valid.user.username if valid.user else None,
    }
    answer |= {k: v for k, v in claims.items() if k not in {"gid"}}
    return {k: v for k, v in answer.items() if v is not None}


def _refresh(
    session: OstiarySession, sessions: SessionService, token: str
) -> dict[str, Any] | None:
    refresh = find_refresh(session, token)
    if refresh is None or refresh.rotated_at is not None or refresh.idle_expires_at <= utcnow():
        return None
    grant = session.get(Grant, refresh.grant_id)
    if grant is None or not grant_alive(session, sessions, grant):
        return None
    client = session.get(Client, grant.client_id)
    return {
        "active": True,
        "client_id": client.client_id if client else None,
        "sub": str(grant.user_id) if grant.user_id else None,
        "scope": grant.scope,
        "exp": int(min(refresh.idle_expires_at, grant.expires_at).timestamp()),
        "iat": int(refresh.created_at.timestamp()),
    }
