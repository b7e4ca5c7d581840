"""Tokens: JWT access tokens (RFC 9068), ID tokens (OpenID Connect Core §2), refresh tokens.

A user's tokens name the grant they came from (``gid``): revoking the grant (code or refresh token
reuse, revocation of the refresh token) revokes them, and they live only while the grant, the
client, the user, the browser session and the grant's context (not suspended) do. A client's
own token (client credentials) stands on the client alone: it names no grant, nothing is
written when it is issued, and it lives while the client is enabled and its service account, if
it has one, is active. Any access token can be
revoked by its ``jti`` (RFC 7009).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, insert, literal, select

from ostiary.access.cache import RightsCache
from ostiary.access.models import Module
from ostiary.authn.models import BrowserSession
from ostiary.authn.sessions import SessionService
from ostiary.clients.models import Client
from ostiary.contexts.closed import closed, closed_path
from ostiary.contexts.models import Context
from ostiary.db.changes import TABLE_TOPICS, ChangeFeed, Vouched
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.protocols.oidc.models import Grant, RefreshToken, RevokedAccessToken
from ostiary.protocols.oidc.registry import ClientDirectory
from ostiary.protocols.oidc.userinfo import email_claims
from ostiary.users.models import User, UserStatus

ACCESS_TOKEN_TYPE = "at+jwt"


class Signer(Protocol):
    def sign(
        self, session: OstiarySession, claims: dict[str, Any], alg: str, typ: str | None = None
    ) -> str: ...

    def verify(
        self, session: OstiarySession, token: str, *, allowed_algs: tuple[str, ...] = ...
    ) -> dict[str, Any]: ...


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audience(module_key: str | None, client: Client) -> str:
    return f"urn:ostiary:module:{module_key}" if module_key is not None else client.client_id


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    scope: str
    id_token: str | None = None
    refresh_token: str | None = None

    def as_response(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.id_token:
            body["id_token"] = self.id_token
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
        return body


class TokenIssuer:
    def __init__(
        self,
        session: OstiarySession,
        signer: Signer,
        rights: RightsCache,
        issuer: str,
        clients: ClientDirectory | None = None,
    ) -> None:
        self.session = session
        self.signer = signer
        self.rights = rights
        self.issuer = issuer
        self.clients = clients

    def _module_key(self, client: Client) -> str | None:
        if client.module_id is None:
            return None
        if self.clients is not None:
            return self.clients.module_key(self.session, client.module_id)
        module = self.session.get(Module, client.module_id)
        return module.key if module is not None else None

    def issue_for_client(self, client: Client, scope: str) -> IssuedTokens:
        """A client's own access token (client credentials): no user, no grant."""
        now = int(utcnow().timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": client.client_id,
            "aud": audience(self._module_key(client), client),
            "client_id": client.client_id,
            "iat": now,
            "exp": now + client.access_token_seconds,
            "jti": uuid.uuid4().hex,
            "scope": scope,
        }
        access = self.signer.sign(self.session, claims, client.signing_alg, ACCESS_TOKEN_TYPE)
        return IssuedTokens(access, client.access_token_seconds, scope)

    def issue(
        self,
        client: Client,
        grant: Grant,
        *,
        nonce: str | None = None,
        with_refresh: bool = False,
    ) -> IssuedTokens:
        now = utcnow()
        user = self.session.get(User, grant.user_id) if grant.user_id else None
        browser = self.session.get(BrowserSession, grant.session_id) if grant.session_id else None
        module_key = self._module_key(client)
        scopes = grant.scope.split()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(user.id) if user else client.client_id,
            "aud": audience(module_key, client),
            "client_id": client.client_id,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + client.access_token_seconds,
            "jti": uuid.uuid4().hex,
            "scope": grant.scope,
            "gid": str(grant.id),
        }
        if browser is not None:
            claims |= {
                "sid": str(browser.id),
                "auth_time": int(browser.auth_time.timestamp()),
                "amr": browser.amr,
            }
            if browser.acr:
                claims["acr"] = browser.acr
        context = self.session.get(Context, grant.context_id) if grant.context_id else None
        if user is not None and context is not None:
            claims["context"] = {"id": str(context.id), "type": context.type, "name": context.name}
            if module_key is not None:
                rights = self.rights.effective(
                    self.session,
                    user,
                    context,
                    module_key,
                    external_roles=browser.external_roles if browser is not None else (),
                )
                claims["rights"] = (
                    {k: d.value for k, d in rights.decisions.items()} if rights.access else {}
                )
        access = self.signer.sign(self.session, claims, client.signing_alg, ACCESS_TOKEN_TYPE)
        id_token = None
        if user is not None and "openid" in scopes and browser is not None:
            id_token = self._id_token(client, user, browser, nonce, now, scopes)
        refresh = self._refresh(grant, client, now) if with_refresh and user is not None else None
        return IssuedTokens(access, client.access_token_seconds, grant.scope, id_token, refresh)

    def _id_token(
        self,
        client: Client,
        user: User,
        browser: BrowserSession,
        nonce: str | None,
        now: datetime,
        scopes: list[str],
    ) -> str:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(user.id),
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + client.access_token_seconds,
            "auth_time": int(browser.auth_time.timestamp()),
            "sid": str(browser.id),
            "amr": browser.amr,
        }
        if browser.acr:
            claims["acr"] = browser.acr
        if nonce is not None:
            claims["nonce"] = nonce
        claims |= email_claims(user, scopes)
        return self.signer.sign(self.session, claims, client.signing_alg, "JWT")

    def _refresh(self, grant: Grant, client: Client, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        idle = min(now + timedelta(seconds=client.refresh_idle_seconds), grant.expires_at)
        self.session.core().execute(
            _NEW_REFRESH,
            {"token_hash": token_hash(token), "grant_id": grant.id, "idle_expires_at": idle},
        )
        return token


@dataclass(frozen=True)
class ValidAccessToken:
    claims: dict[str, Any]
    client: Client
    grant: Grant | None  # None for a client's own token
    user: User | None


_NEW_REFRESH = insert(RefreshToken.__table__)
_REVOKED: Any = RevokedAccessToken.__table__
_IS_REVOKED = select(literal(1)).where(_REVOKED.c.jti == bindparam("jti"))
# Expired tokens fail on their ``exp`` anyway; those that expire while the list is kept too.
_UNEXPIRED = (
    select(_REVOKED.c.jti).where(_REVOKED.c.expires_at > bindparam("now")).limit(bindparam("limit"))
)
_ALL = "all"
_USERS: Any = User.__table__
_USER_STATUS = select(_USERS.c.status).where(_USERS.c.id == bindparam("user_id"))


class RevocationList:
    """Per process: the ``jti`` of every access token revoked and not yet expired, read at
    once and kept while the change feed says that no token was revoked since. Tokens live
    minutes, so the list is short; a longer one than ``MAX_KEPT`` is not kept (each check
    then asks for its token alone)."""

    MAX_KEPT = 10_000

    def __init__(self) -> None:
        self._kept = Vouched[str, frozenset[str]](max_entries=1)

    def list(self, session: OstiarySession, feed: ChangeFeed) -> frozenset[str] | None:
        kept = self._kept.get(feed, _ALL)
        if kept is not None:
            return kept
        connection = session.connection()
        rows = connection.execute(_UNEXPIRED, {"now": utcnow(), "limit": self.MAX_KEPT + 1})
        revoked = frozenset(jti for (jti,) in rows)
        if len(revoked) > self.MAX_KEPT:
            return None
        self._kept.keep(feed, connection, _ALL, revoked, (TABLE_TOPICS[_REVOKED.name],))
        return revoked


class AccessTokens:
    """Checks an access token as every resource of ours must: signature by one of our keys with
    an allowed algorithm, type ``at+jwt`` (an ID token is not an access token), issuer, expiry,
    not revoked, and everything it stands on still alive: grant, client, user, session."""

    def __init__(
        self,
        session: OstiarySession,
        signer: Signer,
        sessions: SessionService,
        issuer: str,
        clients: ClientDirectory | None = None,
        revocations: RevocationList | None = None,
    ) -> None:
        self.session = session
        self.signer = signer
        self.sessions = sessions
        self.issuer = issuer
        self.clients = clients
        self.revocations = revocations

    def validate(self, token: str) -> ValidAccessToken | None:
        try:
            claims = self.signer.verify(
                self.session, token, allowed_algs=("ES256", "RS256"), typ=ACCESS_TOKEN_TYPE
            )
        except Exception:  # noqa: BLE001 - any defect in a presented token means "not valid"
            return None
        now = int(utcnow().timestamp())
        if (
            claims.get("iss") != self.issuer
            or not isinstance(claims.get("exp"), int)
            or claims["exp"] <= now
        ):
            return None
        jti, gid = claims.get("jti"), claims.get("gid")
        if not isinstance(jti, str) or not isinstance(gid, str | None):
            return None
        if self._revoked(jti):
            return None
        if gid is None:
            return self._client_token(claims)
        try:
            grant = self.session.get(Grant, uuid.UUID(gid))
        except ValueError:
            return None
        if grant is None:
            return None
        client = self._client(claims.get("client_id"))
        if client is None or client.id != grant.client_id:
            return None
        # Loaded before grant_alive reads it, and held: the identity map keeps objects only
        # while someone refers to them.
        user = self.session.get(User, grant.user_id) if grant.user_id else None
        if not grant_alive(self.session, self.sessions, grant, client):
            return None
        return ValidAccessToken(claims, client, grant, user)

    def _revoked(self, jti: str) -> bool:
        feed = self.session.feed
        if feed is not None and self.revocations is not None:
            revoked = self.revocations.list(self.session, feed)
            if revoked is not None:
                return jti in revoked
        return self.session.connection().execute(_IS_REVOKED, {"jti": jti}).first() is not None

    def _client(self, client_id: object) -> Client | None:
        if not isinstance(client_id, str):
            return None
        if self.clients is not None:
            return self.clients.find(self.session, client_id)
        return self.session.scalars(select(Client).where(Client.client_id == client_id)).first()

    def _client_token(self, claims: dict[str, Any]) -> ValidAccessToken | None:
        client_id = claims.get("client_id")
        if claims.get("sub") != client_id:
            return None
        client = self._client(client_id)
        if client is None or not client_alive(self.session, client, self.clients):
            return None
        return ValidAccessToken(claims, client, None, None)


def client_alive(
    session: OstiarySession, client: Client, clients: ClientDirectory | None = None
) -> bool:
    """Whether the client may have tokens of its own now: enabled, and its service account (if
    it has one) active. ``clients``, if the client came from it, answers without a query."""
    if not client.enabled:
        return False
    if client.service_account_user_id is None:
        return True
    if clients is not None:
        return clients.account_active(session, client)
    status = session.connection().execute(_USER_STATUS, {"user_id": client.service_account_user_id})
    return bool(status.scalar() == UserStatus.ACTIVE)


def grant_alive(
    session: OstiarySession,
    sessions: SessionService,
    grant: Grant,
    client: Client | None = None,
    context: Context | None = None,
) -> bool:
    """Whether the grant and everything it stands on live. ``client`` and ``context``: the
    grant's, if the caller has them at hand already."""
    if grant.revoked_at is not None or grant.expires_at <= utcnow():
        return False
    if grant.context_id is not None:
        connection = session.connection()
        if context is not None and context.id == grant.context_id:
            suspended = closed_path(connection, context.path)
        else:
            suspended = closed(connection, grant.context_id)
        if suspended:
            return False  # its context is suspended; the grant lives again if reactivated
    if client is None or client.id != grant.client_id:
        client = session.get(Client, grant.client_id)
    if client is None or not client.enabled:
        return False
    if grant.user_id is not None:
        user = session.get(User, grant.user_id)
        if user is None or user.status != UserStatus.ACTIVE:
            return False
    if grant.session_id is not None:
        browser = session.get(BrowserSession, grant.session_id)
        if browser is None or not sessions.alive(browser):
            return False
    elif grant.user_id is not None:
        return False  # user grants always stand on a session; it was ended and removed
    elif not client_alive(session, client):
        # A client credentials grant (tokens issued before they named none): the client's
        # service account, if it has one, must be active.
        return False
    return True


def find_refresh(session: OstiarySession, token: str) -> RefreshToken | None:
    return session.scalars(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash(token))
    ).one_or_none()
