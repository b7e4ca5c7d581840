"""``/invite``: the page an invitation's link opens.

The link's token moves from the address into a cookie of this path at once, so that it stays
out of the browser's history, of ``Referer`` headers and of the login flow that an existing
user goes through to come back here. A new person sets up an account, gives the second factor
if one is required (as at login) and is signed in; a signed-in person with the invitation's
address joins with one click.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.authn.flow import LoginState
from ostiary.authn.sessions import CookiePolicy, SessionService
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.errors import InvalidInput, RuleViolation
from ostiary.federation.models import IdentityProvider
from ostiary.federation.relying_party import VerifiedIdentity
from ostiary.invitations.acceptance import (
    Acceptance,
    LinkUnusable,
    Opened,
    Unusable,
    completes_draft,
)
from ostiary.invitations.models import Invitation
from ostiary.protocols.oidc.authorization import AuthorizationRequest
from ostiary.protocols.oidc.authorize import AuthorizeService
from ostiary.protocols.oidc.routes import NO_STORE, browser_token
from ostiary.runtime import Runtime
from ostiary.users.models import User, UserStatus
from ostiary.web.federated import providers_for_page, redirect_upstream
from ostiary.web.reset import field_errors
from ostiary.web.second_factor import after_password
from ostiary.web.templating import templates

router = APIRouter(include_in_schema=False)
HOME = "/invite"
COOKIE = "ostiary_invitation"
REASONS = {
    Unusable.INVALID: "This invitation link is not valid. It may have been replaced by a newer "
    "one: open the link in the latest e-mail, or ask for a new invitation.",
    Unusable.EXPIRED: "This invitation has expired. Ask the person who invited you to send it "
    "again.",
    Unusable.REVOKED: "This invitation was withdrawn.",
    Unusable.ACCEPTED: "This invitation was accepted already. Sign in with your account.",
    Unusable.CLOSED: "This organization is closed and takes no new members.",
}
FORM_FIELDS = ("first_name", "last_name", "phone", "language")


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _acceptance(request: Request, runtime: Runtime, session: OstiarySession) -> Acceptance:
    return Acceptance(runtime, session, _address(request))


def _csrf(runtime: Runtime, token: str) -> str:
    key = runtime.settings.effective_secret_key
    return hmac.new(key, f"invitation-csrf:{token}".encode(), hashlib.sha256).hexdigest()


def _csrf_ok(runtime: Runtime, token: str, given: str) -> bool:
    return bool(token) and hmac.compare_digest(_csrf(runtime, token), given)


def _signed_in(request: Request, runtime: Runtime, session: OstiarySession) -> User | None:
    browser = SessionService(session, runtime.settings).resolve(browser_token(request, runtime))
    return session.get(User, browser.user_id) if browser is not None else None


def _page(request: Request, status: int = 200, **context: object) -> Response:
    context.setdefault("errors", {})
    context.setdefault("values", {})
    return templates.TemplateResponse(
        request, "invitation.html", context, status_code=status, headers=NO_STORE
    )


def _unusable(request: Request, exc: LinkUnusable) -> Response:
    status = 404 if exc.reason is Unusable.INVALID else 410
    response = _page(request, status, unusable=REASONS[exc.reason], reason=str(exc.reason))
    response.delete_cookie(COOKIE, path=HOME)
    return response


def _languages(request: Request, opened: Opened, user: User | None = None) -> None:
    preferences = [p for p in (user.language if user else None, opened.invitation.language) if p]
    request.state.language_preferences = preferences


def _view(
    request: Request,
    runtime: Runtime,
    session: OstiarySession,
    token: str,
    opened: Opened,
    status: int = 200,
    **extra: object,
) -> Response:
    """What the person sees: join, sign in first, a refusal, or the form for a new account."""
    user = _signed_in(request, runtime, session)
    _languages(request, opened, user)
    invitation, account = opened.invitation, opened.account
    if user is not None:
        view = "join" if user.email_key == invitation.email_key else "mismatch"
    elif account is not None and not completes_draft(account):
        view = "sign-in" if account.status == UserStatus.ACTIVE else "blocked"
    else:
        view = "register"
    return _page(
        request,
        status,
        view=view,
        organization=opened.context.name,
        inviter=invitation.inviter_name,
        message=invitation.message,
        email=invitation.email,
        user=user,
        csrf=_csrf(runtime, token),
        min_length=runtime.passwords.min_length,
        phone_required=_acceptance(request, runtime, session).sms_needed(),
        providers=providers_for_page(runtime, session),
        **extra,
    )


@router.get("/invite")
def invitation_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, token: str = ""
) -> Response:
    if token:
        # Out of the address bar, into a cookie of this path only.
        response = RedirectResponse(HOME, status_code=303, headers=NO_STORE)
        policy = CookiePolicy.for_issuer(runtime.settings.issuer)
        response.set_cookie(
            COOKIE,
            token,
            max_age=runtime.settings.login_flow_minutes * 60 * 4,
            path=HOME,
            secure=policy.secure,
            httponly=True,
            samesite="lax",
        )
        return response
    token = request.cookies.get(COOKIE, "")
    try:
        opened = _acceptance(request, runtime, session).open(token)
    except LinkUnusable as exc:
        return _unusable(request, exc)
    return _view(request, runtime, session, token, opened)


@router.post("/invite/register")
def register(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()],
    first_name: Annotated[str, Form()] = "",
    last_name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    confirmation: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "",
) -> Response:
    token = request.cookies.get(COOKIE, "")
    acceptance = _acceptance(request, runtime, session)
    form = {
        "first_name": first_name,
        "last_name": last_name,
        "password": password,
        "confirmation": confirmation,
        "phone": phone,
        "language": language,
    }
    try:
        opened = acceptance.open(token)
        _languages(request, opened)
        if not _csrf_ok(runtime, token, csrf):
            return RedirectResponse(HOME, status_code=303, headers=NO_STORE)
        user, invitation = acceptance.register(token, form)
    except LinkUnusable as exc:
        return _unusable(request, exc)
    except InvalidInput as exc:
        errors = field_errors(request, exc.problems)
        typed = {k: v for k, v in form.items() if k in FORM_FIELDS}
        return _view(request, runtime, session, token, opened, 422, errors=errors, values=typed)
    except RuleViolation as exc:
        return _view(request, runtime, session, token, opened, 409, error=exc.detail)
    request.state.language_preferences = [user.language] if user.language else []
    # Signed in as at login: the second factor first when one is required.
    welcome = f"{HOME}/welcome?invitation={invitation.id}"
    with session.atomic():
        state = LoginState(
            request=AuthorizationRequest(client_id="", redirect_uri=welcome, scope=[]),
            return_to=welcome,
        )
        flow = AuthorizeService(runtime, session).flows.begin(state)
        response = after_password(request, runtime, session, flow, state, user)
    response.delete_cookie(COOKIE, path=HOME)
    return response


@router.post("/invite/sign-in")
def sign_in(
    request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Annotated[str, Form()]
) -> Response:
    """Sign in with the existing account, then come back here to join."""
    token = request.cookies.get(COOKIE, "")
    try:
        opened = _acceptance(request, runtime, session).open(token)
    except LinkUnusable as exc:
        return _unusable(request, exc)
    if not _csrf_ok(runtime, token, csrf):
        return RedirectResponse(HOME, status_code=303, headers=NO_STORE)
    with session.atomic():
        state = LoginState(
            request=AuthorizationRequest(
                client_id="", redirect_uri=HOME, scope=[], login_hint=opened.invitation.email
            ),
            return_to=HOME,
        )
        flow = AuthorizeService(runtime, session).flows.begin(state)
    return RedirectResponse(f"/login?flow={flow.id}", status_code=303, headers=NO_STORE)


@router.post("/invite/federated/{key}")
def federated(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    key: str,
    csrf: Annotated[str, Form()],
) -> Response:
    """Set up the account (or join with the one it signs in) through an upstream provider."""
    token = request.cookies.get(COOKIE, "")
    try:
        _acceptance(request, runtime, session).open(token)
    except LinkUnusable as exc:
        return _unusable(request, exc)
    provider = next((p for p in providers_for_page(runtime, session) if p.key == key), None)
    if provider is None or not _csrf_ok(runtime, token, csrf):
        return RedirectResponse(HOME, status_code=303, headers=NO_STORE)
    with session.atomic():
        state = LoginState(
            request=AuthorizationRequest(client_id="", redirect_uri=HOME, scope=[]),
            return_to=HOME,
            invitation_token=token,
        )
        flow = AuthorizeService(runtime, session).flows.begin(state)
    return redirect_upstream(request, runtime, session, str(flow.id), provider)


def accept_federated(
    request: Request,
    runtime: Runtime,
    session: OstiarySession,
    state: LoginState,
    provider: IdentityProvider,
    identity: VerifiedIdentity,
) -> Response:
    """The upstream's callback for an invitation: accept, then sign in as at ``register``."""
    token = state.invitation_token or ""
    acceptance = _acceptance(request, runtime, session)
    try:
        opened = acceptance.open(token)
        user, invitation = acceptance.register_federated(token, provider, identity)
    except LinkUnusable as exc:
        return _unusable(request, exc)
    except RuleViolation as exc:
        return _view(request, runtime, session, token, opened, 409, error=exc.detail)
    welcome = f"{HOME}/welcome?invitation={invitation.id}"
    with session.atomic():
        flow_state = LoginState(
            request=AuthorizationRequest(client_id="", redirect_uri=welcome, scope=[]),
            return_to=welcome,
            external_roles=identity.roles(provider.roles_claim),
        )
        flow = AuthorizeService(runtime, session).flows.begin(flow_state)
        response = after_password(request, runtime, session, flow, flow_state, user)
    response.delete_cookie(COOKIE, path=HOME)
    return response


@router.post("/invite/join")
def join(
    request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Annotated[str, Form()]
) -> Response:
    token = request.cookies.get(COOKIE, "")
    acceptance = _acceptance(request, runtime, session)
    try:
        opened = acceptance.open(token)
        user = _signed_in(request, runtime, session)
        if user is None or not _csrf_ok(runtime, token, csrf):
            return RedirectResponse(HOME, status_code=303, headers=NO_STORE)
        invitation = acceptance.join(token, user)
    except LinkUnusable as exc:
        return _unusable(request, exc)
    except RuleViolation as exc:
        return _view(request, runtime, session, token, opened, 409, error=exc.detail)
    response = RedirectResponse(
        f"{HOME}/welcome?invitation={invitation.id}", status_code=303, headers=NO_STORE
    )
    response.delete_cookie(COOKIE, path=HOME)
    return response


@router.get("/invite/welcome")
def welcome(
    request: Request, runtime: RuntimeDep, session: SessionDep, invitation: str = ""
) -> Response:
    """Where an accepted invitation lands: the organization, for the person who accepted."""
    user = _signed_in(request, runtime, session)
    if user is not None and user.language:
        request.state.language_preferences = [user.language]
    try:
        found = session.get(Invitation, uuid.UUID(invitation))
    except ValueError:
        found = None
    context = session.get(Context, found.context_id) if found is not None else None
    mine = user is not None and found is not None and found.accepted_by_id == user.id
    return _page(
        request,
        view="welcome",
        user=user,
        organization=context.name if context is not None and mine else None,
    )
