"""OAuth bearer access tokens at the admin API (RFC 6750): tokens issued for the ``ostiary``
module only, by users; the same effective rights then decide as for HTTP Basic."""

from __future__ import annotations

from ostiary.access.catalogue import OSTIARY_MODULE
from ostiary.authn.sessions import SessionService
from ostiary.db.session import OstiarySession
from ostiary.errors import Unauthenticated
from ostiary.protocols.oidc.tokens import AccessTokens
from ostiary.runtime import Runtime
from ostiary.users.models import User

ADMIN_AUDIENCE = f"urn:ostiary:module:{OSTIARY_MODULE}"
INVALID = "the bearer token is not valid for this API"


def authenticate_bearer(session: OstiarySession, runtime: Runtime, token: str) -> User:
    tokens = AccessTokens(
        session,
        runtime.keys,
        SessionService(session, runtime.settings),
        runtime.settings.issuer.rstrip("/"),
    )
    valid = tokens.validate(token)
    if valid is None or valid.claims.get("aud") != ADMIN_AUDIENCE:
        raise Unauthenticated(INVALID)
    if valid.user is None:
        # Client credentials tokens have no user to hold rights yet.
        raise Unauthenticated("service accounts cannot use the admin API yet; use a user's token")
    return valid.user
