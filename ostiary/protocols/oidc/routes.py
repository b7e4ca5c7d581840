"""HTTP endpoints of the OpenID provider: parse, call the protocol code, render.

The endpoints are ``async`` and take only the request, so no dependency hops to the thread pool.
Each one reads what it needs from the request first (``await``), then does its database work in
one synchronous block that opens and closes its own session, run by ``_database``: on PostgreSQL
in the thread pool (one hop), so that other requests go on while a statement waits for the
network; on SQLite in the event loop, since the database is in the process and a statement only
costs CPU, which the hop would add to. No ``await`` happens while a transaction is open. The
blocks are short (a few indexed statements and a signature) and never hash a password.
Requests that only read (client credentials, introspection, userinfo, the JWKS) take read-only
sessions (``Runtime.read_sessions``): on SQLite they take no write lock, on PostgreSQL they need
no BEGIN and ROLLBACK. A client assertion (private_key_jwt) is recorded when it is used, so a
request that carries one takes an ordinary session.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ostiary.audit.actor import Actor
from ostiary.authn.flow import Stage
from ostiary.authn.sessions import CookiePolicy, SessionService
from ostiary.clients.models import Client
from ostiary.db.offload import run_database_block
from ostiary.db.session import OstiarySession
from ostiary.protocols.oidc.authorization import (
    parse_authorization_request,
    partial_request,
    single_valued,
)
from ostiary.protocols.oidc.authorize import AuthorizeService, Outcome, Respond, Suspended
from ostiary.protocols.oidc.client_auth import authenticate_client
from ostiary.protocols.oidc.discovery import provider_metadata
from ostiary.protocols.oidc.errors import OAuthError, UntrustedRequest
from ostiary.protocols.oidc.grants import TokenGrants
from ostiary.protocols.oidc.logout import LogoutResult, LogoutService
from ostiary.protocols.oidc.rfc7009 import revoke
from ostiary.protocols.oidc.rfc7662 import introspect
from ostiary.protocols.oidc.tokens import AccessTokens, IssuedTokens, TokenIssuer
from ostiary.protocols.oidc.urlencoded import parse as parse_urlencoded
from ostiary.protocols.oidc.userinfo import userinfo_claims
from ostiary.runtime import Runtime
from ostiary.web.templating import templates

# Described by the discovery document, not by the admin API's OpenAPI document.
router = APIRouter(tags=["OpenID Connect"], include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_FORM_FIELDS = 1000  # as many as Starlette's form parser takes
# A token request is a few short fields; a client assertion or a token a few kilobytes.
MAX_FORM_BYTES = 64 * 1024
T = TypeVar("T")


# -- helpers -------------------------------------------------------------------------------


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _database(runtime: Runtime, work: Callable[[], T], *, may_need_none: bool = False) -> T:
    """Run ``work``, a synchronous block with a session of its own (see the module's doc);
    ``may_need_none`` when it only reads what this process may keep (``ostiary.db.offload``)."""
    return await run_database_block(
        runtime.engine, work, may_need_none=may_need_none and runtime.changes.live
    )


def _sessions(runtime: Runtime, form: dict[str, str], *, reads_only: bool) -> Any:
    """The session factory for a request: read-only if it reads only (see the module's doc)."""
    if reads_only and "client_assertion" not in form:
        return runtime.read_sessions
    return runtime.sessions


def browser_token(request: Request, runtime: Runtime) -> str | None:
    return request.cookies.get(CookiePolicy.for_issuer(runtime.settings.issuer).name)


def render_outcome(request: Request, runtime: Runtime, outcome: Outcome) -> Response:
    if isinstance(outcome, Respond):
        if outcome.form_post:
            return templates.TemplateResponse(
                request,
                "form_post.html",
                {"action": outcome.redirect_uri, "fields": outcome.params},
                headers=NO_STORE,
            )
        return RedirectResponse(outcome.url, status_code=303, headers=NO_STORE)
    if isinstance(outcome, Suspended):
        return templates.TemplateResponse(
            request,
            "suspended.html",
            {"name": outcome.context_name},
            status_code=403,
            headers=NO_STORE,
        )
    target = "/login" if outcome.stage is Stage.PASSWORD else "/login/context"
    return RedirectResponse(f"{target}?flow={outcome.flow_id}", status_code=303, headers=NO_STORE)


def error_page(request: Request, error: OAuthError) -> Response:
    return templates.TemplateResponse(
        request,
        "oauth_error.html",
        {"error": error.error, "description": error.description},
        status_code=400,
        headers=NO_STORE,
    )


_ENCODE = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


class ProtocolJSON(JSONResponse):
    """Starlette's ``JSONResponse`` with one encoder for the process: ``json.dumps`` with
    options builds one per answer, a measurable part of a token request."""

    def render(self, content: Any) -> bytes:
        return _ENCODE(content).encode()


def oauth_json_error(error: OAuthError) -> JSONResponse:
    headers = dict(NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="ostiary"'
    return JSONResponse(
        {"error": error.error, "error_description": error.description},
        status_code=error.status,
        headers=headers,
    )


async def form_params(request: Request) -> dict[str, str]:
    """The urlencoded body, each parameter once (``ostiary.protocols.oidc.urlencoded``)."""
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise OAuthError(
                "invalid_request", f"the body is larger than {MAX_FORM_BYTES} bytes", status=413
            )
    try:
        items = parse_urlencoded(body, max_fields=MAX_FORM_FIELDS)
    except ValueError:  # UnicodeDecodeError too
        raise OAuthError("invalid_request", "the body is not a valid form") from None
    return single_valued(items)


def _client(
    session: OstiarySession, runtime: Runtime, request: Request, form: dict[str, str]
) -> Client:
    base = runtime.settings.issuer.rstrip("/")
    return authenticate_client(
        session,
        runtime.passwords,
        form,
        request.headers.get("authorization"),
        token_endpoint=f"{base}/oauth2/token",
        issuer=base,
        clients=runtime.clients,
    )


def _tokens(session: OstiarySession, runtime: Runtime) -> AccessTokens:
    return AccessTokens(
        session,
        runtime.keys,
        SessionService(session, runtime.settings),
        runtime.settings.issuer.rstrip("/"),
        runtime.clients,
        runtime.revocations,
    )


# -- discovery -----------------------------------------------------------------------------


@router.get("/.well-known/openid-configuration", summary="OpenID Provider metadata")
@router.get("/.well-known/oauth-authorization-server", summary="RFC 8414 metadata")
async def metadata(request: Request) -> dict[str, Any]:
    return provider_metadata(_runtime(request).settings.issuer)


@router.get("/oauth2/jwks", summary="The public signing keys")
async def jwks(request: Request) -> JSONResponse:
    runtime = _runtime(request)

    def work() -> dict[str, Any]:
        with runtime.read_sessions() as session:
            return runtime.keys.jwks(session)

    keys = await _database(runtime, work)
    return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})


# -- authorization -------------------------------------------------------------------------


@router.api_route("/oauth2/authorize", methods=["GET", "POST"], summary="Authorization endpoint")
async def authorize(request: Request) -> Response:
    runtime = _runtime(request)
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        items = [(k, str(v)) for k, v in (await request.form()).multi_items()]
    try:
        params = single_valued(items)
    except UntrustedRequest as exc:
        return error_page(request, exc)

    def work() -> Response:
        with runtime.sessions() as session:
            service = AuthorizeService(runtime, session)
            try:
                client, auth_request = parse_authorization_request(session, params, runtime.clients)
            except UntrustedRequest as exc:
                return error_page(request, exc)
            except OAuthError as exc:
                return render_outcome(request, runtime, service.error(partial_request(params), exc))
            sessions = SessionService(session, runtime.settings)
            browser = sessions.resolve(browser_token(request, runtime))
            with session.atomic():
                outcome = service.start(client, auth_request, browser)
        return render_outcome(request, runtime, outcome)

    return await _database(runtime, work)


# -- token and friends ---------------------------------------------------------------------


@router.post("/oauth2/token", summary="Token endpoint")
async def token(request: Request) -> JSONResponse:
    runtime = _runtime(request)
    try:
        form = await form_params(request)
        reads_only = form.get("grant_type") == "client_credentials"

        def work() -> IssuedTokens:
            with _sessions(runtime, form, reads_only=reads_only)() as session:
                client = _client(session, runtime, request, form)
                sessions = SessionService(session, runtime.settings)
                issuer = TokenIssuer(
                    session,
                    runtime.keys,
                    runtime.rights,
                    runtime.settings.issuer.rstrip("/"),
                    runtime.clients,
                )
                return TokenGrants(session, issuer, sessions).exchange(client, form)

        # Client credentials may read nothing; a client assertion is checked and recorded.
        kept = reads_only and "client_assertion" not in form
        issued = await _database(runtime, work, may_need_none=kept)
    except OAuthError as exc:
        return oauth_json_error(exc)
    return ProtocolJSON(issued.as_response(), headers=NO_STORE)


@router.post("/oauth2/introspect", summary="Token introspection (RFC 7662)")
async def introspection(request: Request) -> JSONResponse:
    runtime = _runtime(request)
    try:
        form = await form_params(request)

        def work() -> dict[str, Any]:
            with _sessions(runtime, form, reads_only=True)() as session:
                client = _client(session, runtime, request, form)
                if client.public:
                    raise OAuthError(
                        "invalid_client", "public clients cannot introspect", status=401
                    )
                return introspect(
                    session,
                    _tokens(session, runtime),
                    SessionService(session, runtime.settings),
                    client,
                    form.get("token", ""),
                    form.get("token_type_hint"),
                )

        answer = await _database(runtime, work, may_need_none="client_assertion" not in form)
    except OAuthError as exc:
        return oauth_json_error(exc)
    return ProtocolJSON(answer, headers=NO_STORE)


# Served ahead of the router (``ostiary.api.direct``): each takes the bare request and answers
# its own errors.
DIRECT = {("POST", "/oauth2/token"): token, ("POST", "/oauth2/introspect"): introspection}


@router.post("/oauth2/revoke", summary="Token revocation (RFC 7009)")
async def revocation(request: Request) -> Response:
    runtime = _runtime(request)
    try:
        form = await form_params(request)

        def work() -> None:
            with runtime.sessions() as session:
                client = _client(session, runtime, request, form)
                if "token" not in form:
                    raise OAuthError("invalid_request", "token is required")
                revoke(session, _tokens(session, runtime), client, form["token"])

        await _database(runtime, work)
    except OAuthError as exc:
        return oauth_json_error(exc)
    return Response(status_code=200, headers=NO_STORE)


@router.api_route("/oauth2/userinfo", methods=["GET", "POST"], summary="UserInfo endpoint")
async def userinfo(request: Request) -> JSONResponse:
    runtime = _runtime(request)
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")

    def work() -> dict[str, Any] | None:
        with runtime.read_sessions() as session:
            valid = (
                _tokens(session, runtime).validate(value.strip())
                if scheme.lower() == "bearer"
                else None
            )
            scopes = set(valid.claims.get("scope", "").split()) if valid is not None else set()
            if valid is None or valid.user is None or "openid" not in scopes:
                return None
            return userinfo_claims(valid.user, scopes)

    claims = await _database(runtime, work)
    if claims is None:
        return JSONResponse(
            {"error": "invalid_token"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"', **NO_STORE},
        )
    return JSONResponse(claims, headers=NO_STORE)


# -- logout --------------------------------------------------------------------------------


@router.api_route("/oauth2/logout", methods=["GET", "POST"], summary="RP-initiated logout")
async def logout(request: Request) -> Response:
    runtime = _runtime(request)
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        items += [(k, str(v)) for k, v in (await request.form()).multi_items()]
    params = {k: v for k, v in items}
    address = request.client.host if request.client else None

    def work() -> LogoutResult:
        with runtime.sessions() as session:
            sessions = SessionService(session, runtime.settings)
            return LogoutService(session, runtime, sessions).logout(
                browser_token(request, runtime), params, Actor("browser", "web", None, address)
            )

    result = await _database(runtime, work)
    policy = CookiePolicy.for_issuer(runtime.settings.issuer)
    if result.redirect is not None:
        response: Response = RedirectResponse(result.redirect, status_code=303, headers=NO_STORE)
    else:
        response = templates.TemplateResponse(request, "logged_out.html", {}, headers=NO_STORE)
    response.delete_cookie(
        policy.name, path="/", secure=policy.secure, httponly=True, samesite="lax"
    )
    return response
