"""Who is using the console, in which context, with which admin scope.

The console session is the grant that the console's authorization made, tied to the browser
session that it stood on: the cookie names the grant (signed), and each request finds the
browser session from its own cookie and accepts the grant only if it stands on that very
session and still lives (``grant_alive``: not revoked, user active, session alive, context not
suspended). Signing out of Ostiary ends both. The grant's context is the current context; the
caller's standing is narrowed to it, then scopes come from the same code as the API's.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from ostiary.access.admin import AdminScope, Standing
from ostiary.access.subjects import UserRef
from ostiary.api.v1.deps import Caller
from ostiary.audit.actor import Actor
from ostiary.authn.models import BrowserSession
from ostiary.authn.sessions import SessionService
from ostiary.clients.console import CONSOLE_CLIENT_ID
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.errors import Forbidden
from ostiary.protocols.oidc.models import Grant
from ostiary.protocols.oidc.routes import browser_token
from ostiary.protocols.oidc.tokens import grant_alive
from ostiary.runtime import Runtime
from ostiary.users.models import User
from ostiary.web.security import csrf_token


@dataclass(frozen=True)
class ConsoleCookies:
    session: str
    login: str
    secure: bool

    @classmethod
    def for_issuer(cls, issuer: str) -> ConsoleCookies:
        # As for the browser session: __Host- over https (Secure, host-only, path /).
        secure = issuer.startswith("https://")
        prefix = "__Host-" if secure else ""
        return cls(f"{prefix}ostiary_console", f"{prefix}ostiary_console_login", secure)

    def set(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def clear(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="lax")


def cookies(runtime: Runtime) -> ConsoleCookies:
    return ConsoleCookies.for_issuer(runtime.settings.issuer)


def _mac(runtime: Runtime, purpose: str, value: str) -> str:
    key = runtime.settings.effective_secret_key
    return hmac.new(key, f"console-{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def derived(runtime: Runtime, purpose: str, state: str) -> str:
    """A value bound to a login's state that only this server can compute (PKCE verifier,
    nonce), so that nothing but the state needs keeping in the browser."""
    return _mac(runtime, purpose, state)


def session_cookie_value(runtime: Runtime, grant_id: uuid.UUID) -> str:
    return f"{grant_id}.{_mac(runtime, 'grant', str(grant_id))}"


def _grant_id(runtime: Runtime, value: str | None) -> uuid.UUID | None:
    raw, _, mac = (value or "").partition(".")
    if not raw or not hmac.compare_digest(_mac(runtime, "grant", raw), mac):
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


@dataclass
class ConsoleSession:
    browser: BrowserSession
    user: User
    grant: Grant
    context: Context
    caller: Caller
    csrf: str

    def scope(self, right: str) -> AdminScope:
        """Where the caller may use ``right`` from the current context; refused when nowhere."""
        return self.caller.scope(right)

    def may(self, right: str) -> bool:
        try:
            self.caller.scope(right)
        except Forbidden:
            return False
        return True

    def csrf_ok(self, token: str) -> bool:
        return hmac.compare_digest(self.csrf, token)


def resolve(request: Request, runtime: Runtime, session: OstiarySession) -> ConsoleSession | None:
    sessions = SessionService(session, runtime.settings)
    browser = sessions.resolve(browser_token(request, runtime))
    grant_id = _grant_id(runtime, request.cookies.get(cookies(runtime).session))
    if browser is None or grant_id is None:
        return None
    grant = session.get(Grant, grant_id)
    if (
        grant is None
        or grant.session_id != browser.id
        or grant.user_id != browser.user_id
        or grant.context_id is None
        or not grant_alive(session, sessions, grant)
    ):
        return None
    console = runtime.clients.find(session, CONSOLE_CLIENT_ID)
    if console is None or grant.client_id != console.id:
        return None
    user = session.get(User, browser.user_id)
    context = session.get(Context, grant.context_id)
    if user is None or context is None:
        return None
    if user.language:
        request.state.language_preferences = [user.language]
    identity = UserRef(user.id, user.username, user.status, user.delegated)
    address = request.client.host if request.client else None
    actor = Actor(user.username, "web", user.id, address)
    standing = runtime.standings.of(session, identity, browser.external_roles)
    here = Standing(
        tuple(place for place in standing.places if place[0].id == context.id),
        standing.external_roles,
    )
    caller = Caller(session, identity, actor, address, here, api_call=False)
    return ConsoleSession(browser, user, grant, context, caller, csrf_token(runtime, browser))
