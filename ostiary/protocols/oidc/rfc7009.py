"""Token revocation (RFC 7009): a refresh token takes its whole family with it; an access token
is listed as revoked until it would have expired."""

from __future__ import annotations

from datetime import UTC, datetime

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.clients.models import Client
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.protocols.oidc.models import Grant, RevokedAccessToken
from ostiary.protocols.oidc.tokens import AccessTokens, find_refresh


def revoke(session: OstiarySession, tokens: AccessTokens, caller: Client, token: str) -> None:
    """Revoke ``token`` if it is one of the caller's; answer the same either way (§2.2)."""
    with session.atomic():
        refresh = find_refresh(session, token)
        if refresh is not None:
            grant = session.get(Grant, refresh.grant_id)
            if grant is not None and grant.client_id == caller.id and grant.revoked_at is None:
                grant.revoked_at = utcnow()
                grant.revoked_reason = "revoked by the client"
                AuditLog(session).record(
                    Actor(caller.client_id, "api"),
                    "oauth.grant_revoked",
                    target_type="grant",
                    target_id=grant.id,
                    changes={"reason": "revocation request"},
                )
            return
        valid = tokens.validate(token)
        if valid is not None and valid.client.id == caller.id:
            session.merge(
                RevokedAccessToken(
                    jti=valid.claims["jti"],
                    expires_at=datetime.fromtimestamp(valid.claims["exp"], UTC),
                )
            )
