"""Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3:
client_secret_basic, client_secret_post; RFC 7523 §2.2: private_key_jwt; ``none`` for public
clients, which then prove themselves with PKCE)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ostiary.audit.actor import Actor
from ostiary.authn.passwords import Passwords
from ostiary.clients.models import Client
from ostiary.clients.services import ClientService
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.protocols.oidc.authorization import find_client
from ostiary.protocols.oidc.errors import OAuthError

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS = ["ES256", "RS256", "PS256", "EdDSA"]


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
) -> Client:
    basic = _basic(authorization)
    methods = sum([basic is not None, "client_secret" in form, "client_assertion" in form])
    if methods > 1:
        raise OAuthError("invalid_request", "use exactly one client authentication method")
    if basic is not None:
        return _by_secret(session, passwords, basic[0], basic[1], "client_secret_basic", form)
    if "client_secret" in form:
        return _by_secret(
            session,
            passwords,
            form.get("client_id", ""),
            form["client_secret"],
            "client_secret_post",
            form,
        )
    if "client_assertion" in form:
        return _by_assertion(session, form, token_endpoint, issuer)
    client = find_client(session, form.get("client_id"))
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
) -> Client:
    if form.get("client_id") not in (None, client_id):
        raise _invalid("client_id does not match the credentials")
    client = find_client(session, client_id)
    service = ClientService(session, Actor.system(), passwords)
    if client is None or not client.enabled or client.public or not client.secret_hash:
        raise _invalid("client authentication failed")
    if client.token_endpoint_auth_method != method or not service.secret_matches(client, secret):
        raise _invalid("client authentication failed")
    return client


def _by_assertion(
    session: OstiarySession, form: Mapping[str, str], token_endpoint: str, issuer: str
) -> Client:
    if form.get("client_assertion_type") != JWT_BEARER:
        raise _invalid("unsupported client_assertion_type")
    assertion = form["client_assertion"]
    # Read unverified only to find whose keys to verify it with.
    unverified = _peek_claims(assertion)
    client_id = str(unverified.get("iss") or form.get("client_id") or "")
    client = find_client(session, client_id)
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
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now or claims["exp"] > now + 600:
        raise _invalid("the client assertion is expired or lives too long")
    return client


def _peek_claims(assertion: str) -> dict[str, Any]:
    try:
        payload = assertion.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError):
        raise _invalid("malformed client assertion") from None
