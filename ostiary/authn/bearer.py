"""OAuth bearer access tokens at the admin API (RFC 6750): tokens issued for the ``ostiary``
module only. A user's token acts as that user; a client_credentials token acts as the client's
service account (``ostiary.users.service_accounts``). The same effective rights then decide as
for HTTP Basic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ostiary.access.catalogue import OSTIARY_MODULE
from ostiary.authn.models import BrowserSession
from ostiary.authn.sessions import SessionService
from ostiary.clients.services import has_service_account
from ostiary.db.session import OstiarySession
from ostiary.errors import Unauthenticated
from ostiary.protocols.oidc.tokens import AccessTokens
from ostiary.runtime import Runtime
from ostiary.users.models import User, UserStatus

ADMIN_AUDIENCE = f"urn:ostiary:module:{OSTIARY_MODULE}"
INVALID = "the bearer token is not valid for this API"


@dataclass(frozen=True)
class BearerCaller:
    user: User
    # The external role names of the login the token stands on (step e1 of the rights).
    external_roles: Sequence[str] = ()


def authenticate_bearer(session: OstiarySession, runtime: Runtime, token: str) -> BearerCaller:
    tokens = AccessTokens(
        session,
        runtime.keys,
        SessionService(session, runtime.settings),
        runtime.settings.issuer.rstrip("/"),
        revocations=runtime.revocations,
    )
    valid = tokens.validate(token)
    if valid is None or valid.claims.get("aud") != ADMIN_AUDIENCE:
        raise Unauthenticated(INVALID)
    if valid.user is not None:
        grant = valid.grant
        browser = (
            session.get(BrowserSession, grant.session_id)
            if grant is not None and grant.session_id is not None
            else None
        )
        return BearerCaller(valid.user, browser.external_roles if browser is not None else ())
    # A client_credentials token: the client acts as its service account, while it may.
    client = valid.client
    account = (
        session.get(User, client.service_account_user_id)
        if client.service_account_user_id is not None
        else None
    )
    if (
        account is None
        or not account.service_account
        or account.status != UserStatus.ACTIVE
        or not has_service_account(client)
    ):
        raise Unauthenticated(INVALID)
    return BearerCaller(account)
