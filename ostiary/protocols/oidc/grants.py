"""The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6) with RFC 9700's protections: codes
and refresh tokens are single use, and using one twice revokes everything issued from it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import select, update

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.models import BrowserSession
from ostiary.authn.sessions import SessionService
from ostiary.clients.models import Client
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow, uuid7
from ostiary.protocols.oidc.codes import claim_code, find_code, record_grant
from ostiary.protocols.oidc.errors import OAuthError
from ostiary.protocols.oidc.models import Grant, RefreshToken
from ostiary.protocols.oidc.rfc7636 import verifier_matches
from ostiary.protocols.oidc.tokens import (
    IssuedTokens,
    TokenIssuer,
    client_alive,
    find_refresh,
    grant_alive,
)
from ostiary.users.models import User

SUPPORTED = ("authorization_code", "refresh_token", "client_credentials")


def _invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


class TokenGrants:
    def __init__(
        self, session: OstiarySession, issuer: TokenIssuer, sessions: SessionService
    ) -> None:
        self.session = session
        self.issuer = issuer
        self.sessions = sessions
        self.audit = AuditLog(session)

    def exchange(self, client: Client, form: Mapping[str, str]) -> IssuedTokens:
        grant_type = form.get("grant_type")
        if grant_type not in SUPPORTED:
            raise OAuthError(
                "unsupported_grant_type", "grant_type must be one of " + ", ".join(SUPPORTED)
            )
        if grant_type not in client.grant_types:
            raise OAuthError("unauthorized_client", f"this client may not use {grant_type}")
        if grant_type == "client_credentials":
            # Reads only, so no transaction to commit (see _client_credentials).
            return self._client_credentials(client, form)
        with self.session.atomic():
            if grant_type == "authorization_code":
                return self._code(client, form)
            return self._refresh(client, form)

    # -- authorization_code -------------------------------------------------------------

    def _code(self, client: Client, form: Mapping[str, str]) -> IssuedTokens:
        presented = form.get("code", "")
        code = claim_code(self.session.core(), presented, client.id)
        if code is None:
            known = find_code(self.session, presented)
            if known is None or known.client_id != client.id:
                raise _invalid_grant("unknown code")
            self._revoke(known.grant_id, "code reused")
            raise _invalid_grant("the code was already used; what it gave is revoked")
        if code.expires_at <= utcnow():
            raise _invalid_grant("the code has expired")
        if form.get("redirect_uri") != code.redirect_uri:
            raise _invalid_grant("redirect_uri does not match the authorization request")
        verifier = form.get("code_verifier")
        if code.code_challenge is None:
            if verifier is not None:
                # A verifier without a challenge means the challenge was stripped on the way.
                raise _invalid_grant(
                    "code_verifier given but the authorization request had no challenge"
                )
        elif verifier is None or not verifier_matches(code.code_challenge, verifier):
            raise _invalid_grant("code_verifier does not match the code_challenge")
        # Loaded in one query and held for grant_alive and the issuer: the identity map keeps
        # objects only while someone refers to them.
        user, browser, context = self._standing(code.user_id, code.session_id, code.context_id)
        grant = Grant(
            id=uuid7(),
            client_id=client.id,
            user_id=code.user_id,
            session_id=code.session_id,
            context_id=code.context_id,
            scope=code.scope,
            expires_at=utcnow() + timedelta(seconds=client.refresh_token_seconds),
        )
        if (
            user is None
            or browser is None
            or not grant_alive(self.session, self.sessions, grant, client, context)
        ):
            raise _invalid_grant("the user or the session behind this code is no longer valid")
        self.session.add(grant)
        # Flushed here, so that the code can name it; with nothing left to flush, the rights
        # counters of the token's claims come from what this process keeps.
        record_grant(self.session.core(), code.id, grant.id)
        return self.issuer.issue(
            client,
            grant,
            nonce=code.nonce,
            with_refresh="refresh_token" in client.grant_types,
        )

    def _standing(
        self, user_id: uuid.UUID, session_id: uuid.UUID, context_id: uuid.UUID | None
    ) -> tuple[User | None, BrowserSession | None, Context | None]:
        """The user, browser session and context that a code's tokens stand on."""
        row = self.session.execute(
            select(User, BrowserSession, Context)
            .select_from(User)
            .join(BrowserSession, BrowserSession.id == session_id)
            .outerjoin(Context, Context.id == context_id)
            .where(User.id == user_id)
        ).first()
        return (row[0], row[1], row[2]) if row is not None else (None, None, None)

    # -- refresh_token ------------------------------------------------------------------

    def _refresh(self, client: Client, form: Mapping[str, str]) -> IssuedTokens:
        token = find_refresh(self.session, form.get("refresh_token", ""))
        grant = self.session.get(Grant, token.grant_id) if token else None
        if token is None or grant is None or grant.client_id != client.id:
            raise _invalid_grant("unknown refresh token")
        rotated = self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token.id, RefreshToken.rotated_at.is_(None))
            .values(rotated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if rotated.rowcount != 1:  # type: ignore[attr-defined]
            self._revoke(grant.id, "refresh token reused")
            raise _invalid_grant("the refresh token was already used; its family is revoked")
        user = self.session.get(User, grant.user_id) if grant.user_id else None  # held, as above
        if user is None and grant.user_id is not None:
            raise _invalid_grant("the refresh token has expired or was revoked")
        if token.idle_expires_at <= utcnow() or not grant_alive(
            self.session, self.sessions, grant, client
        ):
            raise _invalid_grant("the refresh token has expired or was revoked")
        if "scope" in form:
            wanted = form["scope"].split()
            if not set(wanted) <= set(grant.scope.split()):
                raise OAuthError("invalid_scope", "a refresh cannot widen the scope")
        return self.issuer.issue(client, grant, with_refresh=True)

    # -- client_credentials -------------------------------------------------------------

    def _client_credentials(self, client: Client, form: Mapping[str, str]) -> IssuedTokens:
        if client.public:
            raise OAuthError("unauthorized_client", "public clients cannot use client_credentials")
        wanted = form.get("scope", "").split()
        unknown = [s for s in wanted if s not in client.scopes or s in {"openid", "offline_access"}]
        if unknown:
            raise OAuthError(
                "invalid_scope", "scope not allowed for this client: " + " ".join(unknown)
            )
        if not client_alive(self.session, client, self.issuer.clients):
            # The client's service account was deactivated: the client is paused.
            raise OAuthError("unauthorized_client", "this client's service account is not active")
        # The token stands on the client alone: nothing to write (see ostiary.protocols.oidc.tokens).
        return self.issuer.issue_for_client(client, " ".join(wanted))

    def _revoke(self, grant_id: object, reason: str) -> None:
        grant = self.session.get(Grant, grant_id) if grant_id else None
        if grant is None:
            return
        # Written in its own commit: the request fails, the revocation must stay.
        grant.revoked_at = grant.revoked_at or utcnow()
        grant.revoked_reason = reason
        self.audit.record(
            Actor.system(),
            "oauth.grant_revoked",
            target_type="grant",
            target_id=grant.id,
            changes={"reason": reason},
        )
        self.session.commit()
