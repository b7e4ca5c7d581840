"""Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3:
client_secret_basic, client_secret_post; RFC 7523 §2.2: private_key_jwt; ``none`` for public
clients, which then prove themselves with PKCE).

A client assertion is accepted once (RFC 7523 §3, OpenID Connect Core §9): its ``jti`` is
recorded for the client until the assertion expires, and a second use is refused. Assertions
therefore must carry ``jti`` and ``exp``, and may live at most ``MAX_ASSERTION_SECONDS``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from ostiary.audit.actor import Actor
from ostiary.authn.passwords import Passwords
from ostiary.clients.models import Client
from ostiary.clients.services import ClientService
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.protocols.oidc.authorization import find_client
from ostiary.protocols.oidc.errors import OAuthError
from ostiary.protocols.oidc.models import UsedClientAssertion
from ostiary.protocols.oidc.registry import ClientDirectory

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS = ["ES256", "RS256", "PS256", "EdDSA"]
# How long an assertion may live: its jti is remembered that long.
MAX_ASSERTION_SECONDS = 300
# Clock difference tolerated for nbf and iat in the future.
CLOCK_SKEW_SECONDS = 60
MAX_JTI_LENGTH = 255


def _invalid(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, status=401)


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid("malformed Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise _invalid("malformed Basic credentials")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate_client(
    session: OstiarySession,
    passwords: Passwords,
    form: Mapping[str, str],
    authorization: str | None,
    *,
    token_endpoint: str,
    issuer: str,
    clients: ClientDirectory | None = None,
) -> Client:
    """The authenticated client. With ``clients`` it is the directory's shared, read-only
    ``Client`` (see ``ostiary.protocols.oidc.registry``)."""
    basic = _basic(authorization)
    methods = sum([basic is not None, "client_secret" in form, "client_assertion" in form])
    if methods > 1:
        raise OAuthError("invalid_request", "use exactly one client authentication method")
    if basic is not None:
        return _by_secret(
            session, passwords, basic[0], basic[1], "client_secret_basic", form, clients
        )
    if "client_secret" in form:
        return _by_secret(
            session,
            passwords,
            form.get("client_id", ""),
            form["client_secret"],
            "client_secret_post",
            form,
            clients,
        )
    if "client_assertion" in form:
        return _by_assertion(session, form, token_endpoint, issuer, clients)
    client = find_client(session, form.get("client_id"), clients)
    if client is None or not client.enabled or client.token_endpoint_auth_method != "none":
        raise _invalid("client authentication failed")
    return client


def _by_secret(
    session: OstiarySession,
    passwords: Passwords,
    client_id: str,
    secret: str,
    method: str,
    form: Mapping[str, str],
    clients: ClientDirectory | None,
) -> Client:
    if form.get("client_id") not in (None, client_id):
        raise _invalid("client_id does not match the credentials")
    client = find_client(session, client_id, clients)
    service = ClientService(session, Actor.system(), passwords)
    if client is None or not client.enabled or client.public or not client.secret_hash:
        raise _invalid("client authentication failed")
    if client.token_endpoint_auth_method != method or not service.secret_matches(client, secret):
        raise _invalid("client authentication failed")
    return client


def _by_assertion(
    session: OstiarySession,
    form: Mapping[str, str],
    token_endpoint: str,
    issuer: str,
    clients: ClientDirectory | None,
) -> Client:
    if form.get("client_assertion_type") != JWT_BEARER:
        raise _invalid("unsupported client_assertion_type")
    assertion = form["client_assertion"]
    # Read unverified only to find whose keys to verify it with.
    unverified = _peek_claims(assertion)
    client_id = str(unverified.get("iss") or form.get("client_id") or "")
    client = find_client(session, client_id, clients)
    if (
        client is None
        or not client.enabled
        or client.token_endpoint_auth_method != "private_key_jwt"
        or not client.jwks
    ):
        raise _invalid("client authentication failed")
    try:
        token = jwt.decode(assertion, KeySet.import_key_set(client.jwks), algorithms=ASSERTION_ALGS)  # type: ignore[arg-type]
    except (JoseError, ValueError):
        raise _invalid("the client assertion's signature does not verify") from None
    claims = token.claims
    audiences = claims.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
    now = int(utcnow().timestamp())
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise _invalid("the client assertion must have iss and sub equal to the client_id")
    if token_endpoint not in audiences and issuer not in audiences:
        raise _invalid("the client assertion is for another audience")
    exp = _numeric_date(claims.get("exp"))
    if exp is None:
        raise _invalid("the client assertion must have an exp")
    if exp <= now or exp > now + MAX_ASSERTION_SECONDS:
        raise _invalid(
            f"the client assertion is expired or lives longer than {MAX_ASSERTION_SECONDS} seconds"
        )
    for early in ("nbf", "iat"):
        value = claims.get(early)
        when = _numeric_date(value)
        if value is not None and (when is None or when > now + CLOCK_SKEW_SECONDS):
            raise _invalid(f"the client assertion's {early} is not a time in the past")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise _invalid(f"the client assertion must have a jti of 1 to {MAX_JTI_LENGTH} characters")
    if not spend_assertion(session, client, jti, exp):
        raise _invalid("the client assertion was used before")
    return client


def spend_assertion(session: OstiarySession, client: Client, jti: str, exp: int) -> bool:
    """Record the assertion's jti for the client until ``exp``; False when it was recorded
    already. Committed at once, so that the assertion is spent even if the request fails later.

    The primary key (client, jti) decides between simultaneous uses: the second insert waits
    for the first and then finds the row there. The client's expired rows go on the way.
    """
    row = {
        "client_id": client.id,
        "jti": jti,
        "expires_at": datetime.fromtimestamp(exp, UTC),
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    with session.atomic():
        session.execute(
            delete(UsedClientAssertion).where(
                UsedClientAssertion.client_id == client.id,
                UsedClientAssertion.expires_at <= utcnow(),
            )
        )
        inserted = session.execute(
            insert(UsedClientAssertion)
            .values(**row)
            .on_conflict_do_nothing()
            .returning(UsedClientAssertion.jti)
        ).first()
    return inserted is not None


def _numeric_date(value: object) -> int | None:
    """Seconds since the epoch (RFC 7519 NumericDate, which may have a fraction)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def _peek_claims(assertion: str) -> dict[str, Any]:
    try:
        payload = assertion.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError):
        raise _invalid("malformed client assertion") from None
