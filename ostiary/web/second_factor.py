"""The second factor at login, and passwordless login with a passkey.

After the password (``after_password``), a user who must give a second factor is taken to
``/login/second-factor``; the browser session starts only when it is given (``complete``), with
the methods used in its ``amr``. ``/login/passkey`` signs in with a passkey alone.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.factors.codes import Sent, Verdict
from ostiary.authn.factors.passkeys import (
    PASSWORDLESS,
    SECOND_FACTOR,
    PasskeyError,
    PasskeyService,
)
from ostiary.authn.factors.policy import PWD, amr_for
from ostiary.authn.factors.stage import SecondFactorStage
from ostiary.authn.flow import LoginFlows, LoginState, OpenFlow, Stage
from ostiary.authn.sessions import CookiePolicy, SessionService
from ostiary.branding.resolution import BrandingResolver
from ostiary.clients.models import Client
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.protocols.oidc.authorization import find_client
from ostiary.protocols.oidc.authorize import AuthorizeService, Respond
from ostiary.protocols.oidc.errors import OAuthError
from ostiary.protocols.oidc.routes import NO_STORE, browser_token, error_page, render_outcome
from ostiary.runtime import Runtime
from ostiary.users.models import User
from ostiary.web.branding import dress_for_flow
from ostiary.web.templating import templates

router = APIRouter(include_in_schema=False)
EXPIRED = OAuthError(
    "login_expired",
    "This sign-in took too long or was already used. Start again from the application.",
)
MESSAGES = {
    Verdict.WRONG: "The code is not correct.",
    Verdict.EXPIRED: "The code has expired. Send a new one.",
    Verdict.SPENT: "This code was entered wrongly too often. Send a new one.",
    Verdict.LOCKED: "Too many wrong entries. Wait a few minutes, then try again.",
    Verdict.NO_CODE: "No code was sent for this sign-in. Send one first.",
}
PASSKEY_FAILED = "The passkey could not be used to sign in. Try again or use another method."


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _actor(request: Request, user: User) -> Actor:
    return Actor(user.username, "web", user.id, _address(request))


def _flows(runtime: Runtime, session: OstiarySession) -> LoginFlows:
    return AuthorizeService(runtime, session).flows


def _notice(state: LoginState, sent: Sent) -> None:
    state.code_sent_to = dict(sent.addresses)
    state.sms_blocked = sent.sms_blocked
    state.send_throttled = sent.throttled
    state.code_unavailable = [str(c) for c in sent.unavailable]


def after_password(
    request: Request,
    runtime: Runtime,
    session: OstiarySession,
    login_flow: OpenFlow,
    state: LoginState,
    user: User,
) -> Response:
    """The password was right: ask for the second factor, or sign in. In the caller's
    transaction."""
    flows = _flows(runtime, session)
    state.user_id = user.id
    stage = SecondFactorStage(session, runtime)
    methods = stage.methods(user)
    if not methods.required:
        return complete(request, runtime, session, login_flow, state, user, [PWD])
    state.stage = Stage.SECOND_FACTOR
    if methods.channels and not methods.enrolled:
        # Codes by message go out at once, unless the user has a method of their own.
        brand = BrandingResolver(session).brand(state.branding)
        _notice(state, stage.send(user, login_flow.id, _actor(request, user), brand))
    flows.save(login_flow, state)
    return RedirectResponse(
        f"/login/second-factor?flow={login_flow.id}", status_code=303, headers=NO_STORE
    )


def complete(
    request: Request,
    runtime: Runtime,
    session: OstiarySession,
    login_flow: OpenFlow,
    state: LoginState,
    user: User,
    amr: list[str],
) -> Response:
    """Every factor was given: start the browser session and carry the flow on."""
    flows = _flows(runtime, session)
    authorize = AuthorizeService(runtime, session)
    client: Client | None = None
    choices: list[Context] = []
    if state.return_to is None:
        # Read before the session is written: until then the client, the module and the
        # rights counters come from what this process keeps, without a statement.
        client = find_client(session, state.request.client_id, runtime.clients)
        if client is None or not client.enabled:
            return error_page(request, EXPIRED)
        choices = authorize.contexts_for(user, client, state.external_roles)
    browser, token = SessionService(session, runtime.settings).start(
        user,
        amr=amr,
        actor=_actor(request, user),
        previous=browser_token(request, runtime),
        user_agent=request.headers.get("user-agent"),
        external_roles=state.external_roles,
    )
    state.user_id, state.session_id = user.id, browser.id
    response: Response
    if client is None:
        state.stage = Stage.DONE
        flows.save(login_flow, state)
        assert state.return_to is not None
        response = RedirectResponse(state.return_to, status_code=303, headers=NO_STORE)
    else:
        outcome = authorize.advance(client, state, flow_id=login_flow.id, choices=choices)
        if isinstance(outcome, Respond):
            state.stage = Stage.DONE
        flows.save(login_flow, state)
        response = render_outcome(request, runtime, outcome)
    policy = CookiePolicy.for_issuer(runtime.settings.issuer)
    response.set_cookie(
        policy.name,
        token,
        max_age=runtime.settings.session_absolute_hours * 3600,
        path="/",
        secure=policy.secure,
        httponly=True,
        samesite="lax",
    )
    return response


# -- the second-factor page ------------------------------------------------------------------


def _at_second_factor(
    request: Request, runtime: Runtime, session: OstiarySession, flow: str, csrf: str | None
) -> tuple[OpenFlow, LoginState, User] | None:
    flows = _flows(runtime, session)
    found = flows.find(flow)
    if found is None or found[1].stage is not Stage.SECOND_FACTOR:
        return None
    if csrf is not None and not flows.csrf_ok(found[0], csrf):
        return None
    login_flow, state = found
    user = session.get(User, state.user_id) if state.user_id else None
    if user is None:
        return None
    dress_for_flow(request, session, state, user)
    return login_flow, state, user


def _second_factor_page(
    request: Request,
    runtime: Runtime,
    session: OstiarySession,
    login_flow: OpenFlow,
    state: LoginState,
    user: User,
    *,
    status: int = 200,
    error: str | None = None,
    method: str = "",
) -> Response:
    stage = SecondFactorStage(session, runtime)
    methods = stage.methods(user)
    has_code = stage.codes.has_live_code(user.id, login_flow.id)
    return templates.TemplateResponse(
        request,
        "second_factor.html",
        {
            "flow": login_flow.id,
            "csrf": login_flow.csrf_token,
            "methods": methods,
            "has_code": has_code,
            "sent_to": state.code_sent_to,
            "sms_blocked": state.sms_blocked,
            "throttled": state.send_throttled,
            "unavailable": state.code_unavailable,
            "error": error,
            "method": method,
        },
        status_code=status,
        headers=NO_STORE,
    )


@router.get("/login/second-factor")
def second_factor_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, flow: str = ""
) -> Response:
    found = _at_second_factor(request, runtime, session, flow, None)
    if found is None:
        return error_page(request, EXPIRED)
    return _second_factor_page(request, runtime, session, *found)


@router.post("/login/second-factor/send")
def second_factor_send(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    flow: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    found = _at_second_factor(request, runtime, session, flow, csrf)
    if found is None:
        return error_page(request, EXPIRED)
    login_flow, state, user = found
    with session.atomic():
        brand = BrandingResolver(session).brand(state.branding)
        sent = SecondFactorStage(session, runtime).send(
            user, login_flow.id, _actor(request, user), brand
        )
        _notice(state, sent)
        _flows(runtime, session).save(login_flow, state)
    return RedirectResponse(
        f"/login/second-factor?flow={login_flow.id}", status_code=303, headers=NO_STORE
    )


@router.post("/login/second-factor")
def second_factor_submit(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    flow: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
    method: Annotated[str, Form()] = "code",
    code: Annotated[str, Form()] = "",
) -> Response:
    found = _at_second_factor(request, runtime, session, flow, csrf)
    if found is None:
        return error_page(request, EXPIRED)
    login_flow, state, user = found
    with session.atomic():
        outcome = SecondFactorStage(session, runtime).check(
            user, login_flow.id, method, code, _actor(request, user)
        )
        if outcome.ok:
            return complete(request, runtime, session, login_flow, state, user, outcome.amr)
    return _second_factor_page(
        request,
        runtime,
        session,
        login_flow,
        state,
        user,
        status=401,
        error=MESSAGES.get(outcome.verdict, MESSAGES[Verdict.WRONG]),
        method=method,
    )


# -- passkeys at login -----------------------------------------------------------------------


@router.get("/login/passkey")
def passkey_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, flow: str = ""
) -> Response:
    found = _flows(runtime, session).find(flow)
    if found is None or found[1].stage is not Stage.PASSWORD:
        return error_page(request, EXPIRED)
    login_flow, state = found
    dress_for_flow(request, session, state)
    return templates.TemplateResponse(
        request,
        "passkey_login.html",
        {"flow": login_flow.id, "csrf": login_flow.csrf_token, "error": None},
        headers=NO_STORE,
    )


def _login_ceremony(
    runtime: Runtime, session: OstiarySession, flow: str, csrf: str
) -> tuple[OpenFlow, LoginState, User | None, str] | None:
    flows = _flows(runtime, session)
    found = flows.find(flow)
    if found is None or not flows.csrf_ok(found[0], csrf):
        return None
    login_flow, state = found
    if state.stage is Stage.PASSWORD:
        return login_flow, state, None, PASSWORDLESS
    if state.stage is Stage.SECOND_FACTOR and state.user_id is not None:
        user = session.get(User, state.user_id)
        return (login_flow, state, user, SECOND_FACTOR) if user is not None else None
    return None


@router.post("/login/passkey/options")
def passkey_options(
    runtime: RuntimeDep,
    session: SessionDep,
    flow: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    found = _login_ceremony(runtime, session, flow, csrf)
    if found is None:
        return JSONResponse({"error": EXPIRED.description}, status_code=400, headers=NO_STORE)
    login_flow, _state, user, purpose = found
    with session.atomic():
        ceremony = PasskeyService(session, runtime).authentication_options(
            purpose, user=user, flow_id=login_flow.id
        )
    return JSONResponse(
        {"challenge_id": str(ceremony.challenge_id), "options": ceremony.options},
        headers=NO_STORE,
    )


@router.post("/login/passkey")
def passkey_submit(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    flow: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
    challenge: Annotated[str, Form()] = "",
    credential: Annotated[str, Form()] = "",
) -> Response:
    found = _login_ceremony(runtime, session, flow, csrf)
    if found is None:
        return error_page(request, EXPIRED)
    login_flow, state, user, purpose = found
    dress_for_flow(request, session, state, user)
    with session.atomic():
        try:
            proof = PasskeyService(session, runtime).authenticate(
                purpose,
                uuid.UUID(challenge),
                credential,
                user=user,
                flow_id=login_flow.id,
            )
        except (PasskeyError, ValueError) as exc:
            proof = None
            reason = str(exc)
        if proof is not None:
            amr = (
                amr_for("passwordless", user_verified=proof.user_verified)
                if purpose == PASSWORDLESS
                else amr_for("passkey")
            )
            if purpose == SECOND_FACTOR:
                SecondFactorStage(session, runtime).codes.passed(proof.user)
            return complete(request, runtime, session, login_flow, state, proof.user, amr)
        if user is not None:
            AuditLog(session).record(
                _actor(request, user),
                "second_factor.failed",
                target_type="user",
                target_id=user.id,
                changes={"method": "passkey", "reason": reason[:200]},
            )
    if purpose == SECOND_FACTOR and user is not None:
        return _second_factor_page(
            request, runtime, session, login_flow, state, user, status=401, error=PASSKEY_FAILED
        )
    return templates.TemplateResponse(
        request,
        "passkey_login.html",
        {"flow": login_flow.id, "csrf": login_flow.csrf_token, "error": PASSKEY_FAILED},
        status_code=401,
        headers=NO_STORE,
    )
