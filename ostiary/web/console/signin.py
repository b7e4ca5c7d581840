"""Signing in to the console as an OAuth client of this server: ``/console/login`` sends the
browser through ``/oauth2/authorize`` (code, PKCE S256, state, nonce), ``/console/callback``
exchanges the code through the token endpoint's own grant code and keeps the grant as the
console session. Switching context is a new authorization request with ``context=``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.authn.sessions import CookiePolicy, SessionService
from ostiary.clients.console import CONSOLE_CLIENT_ID, callback_uri
from ostiary.db.session import OstiarySession
from ostiary.protocols.oidc.errors import OAuthError
from ostiary.protocols.oidc.grants import TokenGrants
from ostiary.protocols.oidc.routes import NO_STORE
from ostiary.protocols.oidc.tokens import AccessTokens, TokenIssuer
from ostiary.runtime import Runtime
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.session import (
    ConsoleSession,
    cookies,
    derived,
    resolve,
    session_cookie_value,
)
from ostiary.web.templating import templates

router = APIRouter(include_in_schema=False)
LOGIN_SECONDS = 600


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@router.get("/console/login")
def login(runtime: RuntimeDep, context: str = "") -> Response:
    state = secrets.token_urlsafe(32)
    params = {
        "response_type": "code",
        "client_id": CONSOLE_CLIENT_ID,
        "redirect_uri": callback_uri(runtime.settings),
        "scope": "openid profile email",
        "state": state,
        "nonce": derived(runtime, "nonce", state),
        "code_challenge": _challenge(derived(runtime, "pkce", state)),
        "code_challenge_method": "S256",
    }
    if context:
        params["context"] = context
    response = redirect(f"/oauth2/authorize?{urlencode(params)}")
    policy = cookies(runtime)
    policy.set(response, policy.login, state, max_age=LOGIN_SECONDS)
    return response


def _failed(request: Request, status: int = 400, *, denied: bool = False) -> Response:
    return templates.TemplateResponse(
        request,
        "console/signin_failed.html",
        {"denied": denied},
        status_code=status,
        headers=NO_STORE,
    )


@router.get("/console/callback")
def callback(
    request: Request,
    runtime: RuntimeDep,
    code: str = "",
    state: str = "",
    error: str = "",
) -> Response:
    policy = cookies(runtime)
    expected = request.cookies.get(policy.login, "")
    # The state ties the answer to this browser's own request (RFC 9700 §4.7).
    if not expected or not hmac.compare_digest(expected, state):
        return _failed(request)
    if error == "access_denied":
        # No access to the ostiary module in the chosen context: the console is closed there.
        return _failed(request, 403, denied=True)
    if not code:
        return _failed(request)
    # A GET, but it spends the code and makes the grant: a writing session, one transaction.
    with runtime.sessions() as session:
        grant_id = _exchange(runtime, session, code, state)
    if grant_id is None:
        return _failed(request)
    response = redirect("/console")
    policy.clear(response, policy.login)
    policy.set(response, policy.session, session_cookie_value(runtime, grant_id))
    return response


def _exchange(runtime: Runtime, session: OstiarySession, code: str, state: str) -> uuid.UUID | None:
    """The code exchanged as at the token endpoint (single use, redirect URI, PKCE), the ID
    token's nonce checked; the grant it made, or None."""
    client = runtime.clients.find(session, CONSOLE_CLIENT_ID)
    if client is None:
        return None
    issuer = TokenIssuer(
        session, runtime.keys, runtime.rights, runtime.settings.issuer.rstrip("/"), runtime.clients
    )
    sessions = SessionService(session, runtime.settings)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": callback_uri(runtime.settings),
        "code_verifier": derived(runtime, "pkce", state),
    }
    try:
        issued = TokenGrants(session, issuer, sessions).exchange(client, form)
    except OAuthError:
        return None
    tokens = AccessTokens(session, runtime.keys, sessions, issuer.issuer, runtime.clients)
    valid = tokens.validate(issued.access_token)
    try:
        nonce = runtime.keys.verify(session, issued.id_token or "").get("nonce")
    except Exception:  # noqa: BLE001 - any defect in the ID token fails the sign-in
        nonce = None
    if valid is None or nonce != derived(runtime, "nonce", state):
        return None
    return uuid.UUID(str(valid.claims["gid"]))


@router.get("/console")
def home(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    def work(console: ConsoleSession) -> Response:
        return render(request, runtime, console, "home.html")

    return console_page(request, runtime, session, work)


@router.post("/console/switch")
def switch(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    context: Annotated[str, Form()] = "",
) -> Response:
    """A new authorization for the chosen context: the server decides whether the user may
    work there, as for any application."""

    def work(console: ConsoleSession) -> Response:
        return redirect(f"/console/login?{urlencode({'context': context})}")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.post("/console/logout")
def logout(
    request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Signs out of Ostiary itself: the browser session ends, and every grant on it."""
    console = resolve(request, runtime, session)
    if console is None or not console.csrf_ok(csrf):
        return redirect("/console")
    with session.atomic():
        SessionService(session, runtime.settings).end(console.browser, console.caller.actor)
    response = templates.TemplateResponse(request, "logged_out.html", {}, headers=NO_STORE)
    policy = cookies(runtime)
    policy.clear(response, policy.session)
    browser = CookiePolicy.for_issuer(runtime.settings.issuer)
    response.delete_cookie(
        browser.name, path="/", secure=browser.secure, httponly=True, samesite="lax"
    )
    return response
