"""Login pages: the stages of a login flow (ostiary.authn.flow)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.authn.flow import LoginFlows, LoginState, OpenFlow, Stage
from ostiary.authn.login import LOGIN_FAILED, PasswordLogin
from ostiary.authn.sessions import SessionService
from ostiary.authn.throttle import Throttle, Throttled
from ostiary.branding.resolution import BrandingChoice, BrandingResolver
from ostiary.protocols.oidc.authorization import find_client
from ostiary.protocols.oidc.authorize import AuthorizeService, Respond
from ostiary.protocols.oidc.errors import OAuthError
from ostiary.protocols.oidc.routes import NO_STORE, browser_token, error_page, render_outcome
from ostiary.runtime import Runtime
from ostiary.web.branding import dress_for_flow
from ostiary.web.federated import buttons_for_page, providers_for_email, redirect_upstream
from ostiary.web.reset import wait_message
from ostiary.web.second_factor import after_password
from ostiary.web.templating import templates

router = APIRouter(include_in_schema=False)
EXPIRED = OAuthError(
    "login_expired",
    "This sign-in took too long or was already used. Start again from the application.",
)


def _flows(runtime: Runtime, session: SessionDep) -> LoginFlows:
    return AuthorizeService(runtime, session).flows


def _page(request: Request, name: str, status: int = 200, **context: object) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status, headers=NO_STORE)


def _finish(
    request: Request,
    runtime: Runtime,
    flows: LoginFlows,
    flow: OpenFlow,
    state: LoginState,
    outcome: object,
) -> Response:
    if isinstance(outcome, Respond):
        state.stage = Stage.DONE
    flows.save(flow, state)
    return render_outcome(request, runtime, outcome)  # type: ignore[arg-type]


@router.get("/login")
def login_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, flow: str = ""
) -> Response:
    found = _flows(runtime, session).find(flow)
    if found is None or found[1].stage is not Stage.PASSWORD:
        return error_page(request, EXPIRED)
    login_flow, state = found
    dress_for_flow(request, session, state)
    return _page(
        request,
        "login.html",
        flow=login_flow.id,
        csrf=login_flow.csrf_token,
        username=state.request.login_hint or "",
        error=None,
        providers=buttons_for_page(runtime, session),
    )


@router.post("/login")
def login_submit(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    flow: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    flows = _flows(runtime, session)
    found = flows.find(flow)
    if found is None or found[1].stage is not Stage.PASSWORD or not flows.csrf_ok(found[0], csrf):
        return error_page(request, EXPIRED)
    login_flow, state = found
    # Home-realm discovery: an address of a provider's e-mail domain signs in there.
    home = providers_for_email(runtime, session, username)
    if home is not None:
        return redirect_upstream(request, runtime, session, str(login_flow.id), home)
    # The context of a typed e-mail domain brands the pages from here on, unless the
    # application chose the branding.
    state.branding = BrandingResolver(session).after_identifier(
        state.branding or BrandingChoice(), username
    )
    dress_for_flow(request, session, state)
    client = find_client(session, state.request.client_id, runtime.clients)
    if state.return_to is None and (client is None or not client.enabled):
        return error_page(request, EXPIRED)
    login = PasswordLogin(
        session,
        runtime.passwords,
        runtime.basic.decoy_hash,
        throttle=Throttle(session, runtime.settings),
        address=request.client.host if request.client else None,
    )
    try:
        # Counted, and committed, before the password is verified (ostiary.authn.throttle).
        user = login.verify(username, password)
    except Throttled as exc:
        page = _page(
            request,
            "login.html",
            429,
            flow=login_flow.id,
            csrf=login_flow.csrf_token,
            username=username,
            error=wait_message(request, exc.retry_after),
        )
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    with session.atomic():
        if user is not None:
            # The second factor, if the user needs one, then the session (second_factor.py).
            response = after_password(request, runtime, session, login_flow, state, user)
            login.settle()
            return response
    return _page(
        request,
        "login.html",
        401,
        flow=login_flow.id,
        csrf=login_flow.csrf_token,
        username=username,
        error=LOGIN_FAILED,
    )


@router.get("/login/context")
def context_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, flow: str = ""
) -> Response:
    flows = _flows(runtime, session)
    found = flows.find(flow)
    if found is None or found[1].stage is not Stage.CONTEXT:
        return error_page(request, EXPIRED)
    login_flow, state = found
    dress_for_flow(request, session, state)
    choices = _choices(runtime, session, state)
    return _page(
        request,
        "context.html",
        flow=login_flow.id,
        csrf=login_flow.csrf_token,
        contexts=choices,
        error=None,
    )


@router.post("/login/context")
def context_submit(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    flow: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
    context: Annotated[str, Form()] = "",
) -> Response:
    flows = _flows(runtime, session)
    found = flows.find(flow)
    if found is None or found[1].stage is not Stage.CONTEXT or not flows.csrf_ok(found[0], csrf):
        return error_page(request, EXPIRED)
    login_flow, state = found
    dress_for_flow(request, session, state)
    browser = SessionService(session, runtime.settings).resolve(browser_token(request, runtime))
    if browser is None or browser.id != state.session_id:
        return error_page(request, EXPIRED)
    choices = _choices(runtime, session, state)
    chosen = next((c for c in choices if str(c.id) == context), None)
    if chosen is None:
        return _page(
            request,
            "context.html",
            422,
            flow=login_flow.id,
            csrf=login_flow.csrf_token,
            contexts=choices,
            error="Choose one of these organizations.",
        )
    client = find_client(session, state.request.client_id, runtime.clients)
    assert client is not None
    with session.atomic():
        state.context_id = chosen.id
        outcome = AuthorizeService(runtime, session).advance(client, state, flow_id=login_flow.id)
        return _finish(request, runtime, flows, login_flow, state, outcome)


def _choices(runtime: Runtime, session: SessionDep, state: LoginState) -> list:  # type: ignore[type-arg]
    from ostiary.users.models import User

    client = find_client(session, state.request.client_id, runtime.clients)
    user = session.get(User, state.user_id) if state.user_id else None
    if client is None or user is None:
        return []
    service = AuthorizeService(runtime, session)
    return service.contexts_for(user, client, service.login_roles(state))
