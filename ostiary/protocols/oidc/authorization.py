"""The authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1, RFC 7636).

Only the authorization code flow exists (RFC 9700): ``response_type=code``, PKCE with S256,
redirect URIs compared as exact strings.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel
from sqlalchemy import select

from ostiary.clients.models import Client
from ostiary.db.session import OstiarySession
from ostiary.protocols.oidc.errors import OAuthError, UntrustedRequest
from ostiary.protocols.oidc.registry import ClientDirectory

PROMPTS = frozenset({"none", "login"})
MAX_UI_LOCALES = 10
RESPONSE_MODES = frozenset({"query", "form_post"})


class AuthorizationRequest(BaseModel):
    """A checked request, kept in the login flow while the user signs in."""

    client_id: str
    redirect_uri: str
    scope: list[str]
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    response_mode: str = "query"
    prompt: list[str] = []
    max_age: int | None = None
    login_hint: str | None = None
    # Languages for the pages of this login, best first (OIDC Core §3.1.2.1).
    ui_locales: list[str] = []
    # Ostiary's extension: the context to act in (id or key), to switch context with a new request.
    context: str | None = None


def single_valued(items: list[tuple[str, str]]) -> dict[str, str]:
    """Request parameters must not repeat (RFC 6749 §3.1); empty ones count as absent."""
    params: dict[str, str] = {}
    for name, value in items:
        if name in params:
            raise UntrustedRequest("invalid_request", f"{name} appears more than once")
        if value != "":
            params[name] = value
    return params


def find_client(
    session: OstiarySession, client_id: str | None, directory: ClientDirectory | None = None
) -> Client | None:
    """The client, loaded in ``session``, or from ``directory`` (shared, read-only) if given."""
    if not client_id:
        return None
    if directory is not None:
        return directory.find(session, client_id)
    return session.scalars(select(Client).where(Client.client_id == client_id)).one_or_none()


def parse_authorization_request(
    session: OstiarySession, params: Mapping[str, str], directory: ClientDirectory | None = None
) -> tuple[Client, AuthorizationRequest]:
    """Check a request. Errors before the redirect URI is trusted raise ``UntrustedRequest``;
    later ones raise ``OAuthError`` carrying ``redirect_to`` (see ``redirect_target``)."""
    client = find_client(session, params.get("client_id"), directory)
    if client is None or not client.enabled:
        raise UntrustedRequest("invalid_client", "unknown or disabled client")
    if "authorization_code" not in client.grant_types:
        raise UntrustedRequest(
            "unauthorized_client", "this client may not use the authorization code flow"
        )
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri or redirect_uri not in client.redirect_uris:
        raise UntrustedRequest(
            "invalid_request", "the redirect_uri is not registered for this client"
        )

    if params.get("request") or params.get("request_uri"):
        raise OAuthError("request_not_supported", "request objects are not supported")
    response_type = params.get("response_type")
    if response_type != "code":
        raise OAuthError("unsupported_response_type", "only response_type=code is supported")
    response_mode = params.get("response_mode") or "query"
    if response_mode not in RESPONSE_MODES:
        raise OAuthError("invalid_request", "response_mode must be query or form_post")
    scope = [s for s in (params.get("scope") or "").split(" ") if s]
    unknown = [s for s in scope if s not in client.scopes]
    if unknown:
        raise OAuthError("invalid_scope", f"scope not allowed for this client: {' '.join(unknown)}")
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is not None:
        if (method or "plain") != "S256":
            raise OAuthError("invalid_request", "code_challenge_method must be S256")
        if not (43 <= len(challenge) <= 128):
            raise OAuthError("invalid_request", "code_challenge must be 43 to 128 characters")
    elif method is not None:
        raise OAuthError("invalid_request", "code_challenge_method without code_challenge")
    elif client.public:
        raise OAuthError(
            "invalid_request", "public clients must use PKCE (code_challenge with S256)"
        )
    prompt = [p for p in (params.get("prompt") or "").split(" ") if p]
    if any(p not in PROMPTS for p in prompt) or ("none" in prompt and len(prompt) > 1):
        raise OAuthError("invalid_request", "prompt must be none or login")
    max_age = params.get("max_age")
    if max_age is not None and (not max_age.isdigit() or len(max_age) > 9):
        raise OAuthError("invalid_request", "max_age must be a non-negative number of seconds")
    return client, AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=params.get("state"),
        nonce=params.get("nonce"),
        code_challenge=challenge,
        code_challenge_method="S256" if challenge else None,
        response_mode=response_mode,
        prompt=prompt,
        max_age=int(max_age) if max_age is not None else None,
        login_hint=params.get("login_hint"),
        ui_locales=(params.get("ui_locales") or "").split()[:MAX_UI_LOCALES],
        context=params.get("context"),
    )


def partial_request(params: Mapping[str, str]) -> AuthorizationRequest:
    """Enough of a request to send an error back to a trusted redirect URI."""
    return AuthorizationRequest(
        client_id=params.get("client_id", ""),
        redirect_uri=params.get("redirect_uri", ""),
        scope=[],
        state=params.get("state"),
        response_mode=params.get("response_mode")
        if params.get("response_mode") in RESPONSE_MODES
        else "query",
    )
