"""Ostiary as a relying party of an upstream OpenID Connect provider (OpenID Connect Core 1.0).

Authorization code flow with PKCE S256; ``state`` and ``nonce`` are kept in the login flow's
typed state (``PendingFederation``), which lives on the server and is bound to the browser by
the flow cookie. The code is exchanged with client_secret_basic, and the ID token is checked
with joserfc: signature by a key of the upstream's JWKS under an asymmetric algorithm that the
upstream advertises (never ``none``, never HMAC keyed with something public), then ``iss``,
``aud``, ``azp``, ``exp``, ``iat`` and ``nonce`` (Core section 3.1.3.7).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx2 as httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel

from ostiary.federation.models import IdentityProvider
from ostiary.protocols.oidc.rfc7636 import s256

# Asymmetric algorithms only: with HS256 the "key" would be the client secret, which an
# attacker holding a token for another client cannot be assumed not to know.
ACCEPTED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
LEEWAY_SECONDS = 60
DISCOVERY_SECONDS = 3600
_TIMEOUT = httpx.Timeout(10.0)
# The longest role name a group can have (ostiary.access.models.UserGroup.role), and how many
# names of one login are kept.
MAX_ROLE = 200
MAX_ROLES = 100


class FederationError(Exception):
    """The upstream's answer cannot sign anyone in; the message says why (for the log and the
    page, never with a token or secret in it)."""


class PendingFederation(BaseModel):
    """A redirect to the upstream awaiting its callback."""

    provider: str
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str


@dataclass(frozen=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]


@dataclass(frozen=True)
class VerifiedIdentity:
    """What a valid ID token says about the person."""

    subject: str
    claims: dict[str, Any]

    @property
    def verified_email(self) -> str | None:
        """The e-mail address only when the upstream vouches for it."""
        email = self.claims.get("email")
        if isinstance(email, str) and email and self.claims.get("email_verified") is True:
            return email
        return None

    def roles(self, claim: str | None) -> list[str]:
        """The external role names of this login (step e1), from ``claim``: each once, and
        only names a group's role could be (the session keeps them, so a hostile upstream
        cannot make it keep megabytes)."""
        value = self.claims.get(claim) if claim else None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return []
        names = {item for item in value if isinstance(item, str) and 0 < len(item) <= MAX_ROLE}
        return sorted(names)[:MAX_ROLES]


class UpstreamCache:
    """Discovery documents and key sets by issuer, read over HTTP and kept a while."""

    def __init__(
        self, *, ttl: float = DISCOVERY_SECONDS, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.ttl = ttl
        self.transport = transport
        self._lock = threading.Lock()
        self._discovery: dict[str, tuple[float, Discovery]] = {}
        self._keys: dict[str, tuple[float, KeySet]] = {}

    def client(self) -> httpx.Client:
        return httpx.Client(timeout=_TIMEOUT, transport=self.transport, follow_redirects=False)

    def discovery(self, issuer: str) -> Discovery:
        with self._lock:
            kept = self._discovery.get(issuer)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        document = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        # OpenID Connect Discovery section 4.3: the document must name the issuer asked for.
        if document.get("issuer") != issuer:
            raise FederationError("the upstream's discovery document names another issuer")
        try:
            advertised = document.get("id_token_signing_alg_values_supported") or ["RS256"]
            found = Discovery(
                issuer=issuer,
                authorization_endpoint=str(document["authorization_endpoint"]),
                token_endpoint=str(document["token_endpoint"]),
                jwks_uri=str(document["jwks_uri"]),
                algorithms=tuple(a for a in ACCEPTED_ALGORITHMS if a in advertised),
            )
        except KeyError as exc:
            raise FederationError(f"the upstream's discovery document lacks {exc}") from None
        with self._lock:
            self._discovery[issuer] = (time.monotonic() + self.ttl, found)
        return found

    def keys(self, discovery: Discovery, *, fresh: bool = False) -> KeySet:
        with self._lock:
            kept = self._keys.get(discovery.jwks_uri)
        if kept is not None and kept[0] > time.monotonic() and not fresh:
            return kept[1]
        try:
            keys = KeySet.import_key_set(self._get_json(discovery.jwks_uri))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise FederationError(f"the upstream's key set is unusable: {exc}") from None
        with self._lock:
            self._keys[discovery.jwks_uri] = (time.monotonic() + self.ttl, keys)
        return keys

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            with self.client() as client:
                response = client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise FederationError(f"the upstream could not be read at {url}: {exc}") from None
        if not isinstance(body, dict):
            raise FederationError(f"the upstream's answer at {url} is not a JSON object")
        return body


class RelyingParty:
    def __init__(
        self, provider: IdentityProvider, client_secret: str, cache: UpstreamCache
    ) -> None:
        self.provider = provider
        self.client_secret = client_secret
        self.cache = cache

    def start(self, redirect_uri: str) -> tuple[str, PendingFederation]:
        """The upstream's authorization URL to send the browser to, and what to keep for the
        callback."""
        discovery = self.cache.discovery(self.provider.issuer)
        pending = PendingFederation(
            provider=self.provider.key,
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(48),
            redirect_uri=redirect_uri,
        )
        query = {
            "response_type": "code",
            "client_id": self.provider.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.provider.scopes),
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": s256(pending.code_verifier),
            "code_challenge_method": "S256",
        }
        separator = "&" if "?" in discovery.authorization_endpoint else "?"
        return f"{discovery.authorization_endpoint}{separator}{urlencode(query)}", pending

    def finish(
        self, pending: PendingFederation, state: str | None, code: str | None
    ) -> VerifiedIdentity:
        """Exchange the callback's code and check the ID token; FederationError otherwise."""
        if pending.provider != self.provider.key:
            raise FederationError("the callback is for another provider than the login started")
        if not state or not secrets.compare_digest(state.encode(), pending.state.encode()):
            raise FederationError("the callback's state does not match this login")
        if not code:
            raise FederationError("the callback carries no authorization code")
        discovery = self.cache.discovery(self.provider.issuer)
        id_token = self._exchange(discovery, pending, code)
        return self.verify(discovery, id_token, pending.nonce)

    def verify(self, discovery: Discovery, id_token: str, nonce: str) -> VerifiedIdentity:
        if not discovery.algorithms:
            raise FederationError("the upstream advertises no signing algorithm Ostiary accepts")
        try:
            token = self._decode(discovery, id_token)
        except FederationError:
            raise
        except JoseError as exc:
            raise FederationError(f"the ID token is not valid: {exc.error}") from None
        except ValueError as exc:
            raise FederationError(f"the ID token is not valid: {exc}") from None
        claims = dict(token.claims)
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.provider.issuer},
            aud={"essential": True, "value": self.provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise FederationError(
                f"the ID token is not valid: {exc.error} {exc.description or ''}".strip()
            ) from None
        self._check_authorized_party(claims)
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise FederationError("the ID token's subject is not a usable string")
        return VerifiedIdentity(subject=subject, claims=claims)

    def _decode(self, discovery: Discovery, id_token: str) -> jwt.Token:
        keys = self.cache.keys(discovery)
        try:
            return jwt.decode(id_token, keys, algorithms=list(discovery.algorithms))
        except JoseError as exc:
            if exc.error != "bad_signature" and "key" not in str(exc).lower():
                raise
        # The upstream may have rotated its keys since they were read: once more, fresh.
        return jwt.decode(
            id_token, self.cache.keys(discovery, fresh=True), algorithms=list(discovery.algorithms)
        )

    def _check_authorized_party(self, claims: dict[str, Any]) -> None:
        """Core 3.1.3.7 items 4 and 5: with several audiences, ``azp`` must name us."""
        audiences = claims.get("aud")
        azp = claims.get("azp")
        several = isinstance(audiences, list) and len(audiences) > 1
        if (several or azp is not None) and azp != self.provider.client_id:
            raise FederationError("the ID token was issued to another party (azp)")

    def _exchange(self, discovery: Discovery, pending: PendingFederation, code: str) -> str:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "code_verifier": pending.code_verifier,
        }
        # client_secret_basic (RFC 6749 section 2.3.1): both parts form-encoded first.
        auth = httpx.BasicAuth(
            _form_encode(self.provider.client_id), _form_encode(self.client_secret)
        )
        try:
            with self.cache.client() as client:
                response = client.post(discovery.token_endpoint, data=form, auth=auth)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise FederationError(f"the upstream's token endpoint failed: {exc}") from None
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise FederationError(
                f"the upstream refused the code ({error or response.status_code})"
            )
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise FederationError("the upstream's token answer has no ID token")
        return id_token


def _form_encode(value: str) -> str:
    return quote_plus(value)
