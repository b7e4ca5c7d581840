"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

The browser session ends on the server. Ostiary redirects afterwards only to a
``post_logout_redirect_uri`` registered, exactly, for the client named by the ID token hint or
``client_id``; anything else shows the signed-out page, so logout is never an open redirect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from ostiary.audit.actor import Actor
from ostiary.authn.sessions import SessionService
from ostiary.clients.models import Client
from ostiary.db.session import OstiarySession
from ostiary.protocols.oidc.authorization import find_client
from ostiary.runtime import Runtime


@dataclass(frozen=True)
class LogoutResult:
    redirect: str | None


class LogoutService:
    def __init__(self, session: OstiarySession, runtime: Runtime, sessions: SessionService) -> None:
        self.session = session
        self.runtime = runtime
        self.sessions = sessions

    def logout(self, cookie: str | None, params: Mapping[str, str], actor: Actor) -> LogoutResult:
        with self.session.atomic():
            browser = self.sessions.resolve(cookie)
            if browser is not None:
                self.sessions.end(browser, actor)
        client = self._client(params)
        target = params.get("post_logout_redirect_uri")
        if client is None or not target or target not in client.post_logout_redirect_uris:
            return LogoutResult(None)
        state = params.get("state")
        if state:
            target += ("&" if "?" in target else "?") + urlencode({"state": state})
        return LogoutResult(target)

    def _client(self, params: Mapping[str, str]) -> Client | None:
        named = find_client(self.session, params.get("client_id"))
        hint = params.get("id_token_hint")
        if not hint:
            return named
        try:
            claims = self.runtime.keys.verify(self.session, hint)
        except Exception:  # noqa: BLE001 - a bad hint identifies nobody
            return None
        if claims.get("iss") != self.runtime.settings.issuer.rstrip("/"):
            return None
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        hinted = find_client(self.session, audiences[0]) if len(audiences) == 1 else None
        if named is not None and hinted is not None and named.id != hinted.id:
            return None
        return hinted
