"""``/account/security``: a user's own second factors in the browser, with the pages that
need one (the QR code of an authenticator app, the WebAuthn calls of a new passkey).

The page needs a browser session; without one, it starts a login that comes back here. Every
change needs a recent proof (``ostiary.authn.factors.stepup``): otherwise the page asks for the
password or a second factor first. Forms carry a token bound to the browser session.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.factors.passkeys import PasskeyError, PasskeyService
from ostiary.authn.factors.recovery import RecoveryCodes
from ostiary.authn.factors.services import FactorService
from ostiary.authn.factors.stage import SecondFactorStage
from ostiary.authn.factors.stepup import fresh, mark
from ostiary.authn.factors.totp import TotpService
from ostiary.authn.flow import LoginState
from ostiary.authn.models import BrowserSession
from ostiary.authn.sessions import SessionService
from ostiary.db.session import OstiarySession
from ostiary.errors import Forbidden, RuleViolation
from ostiary.protocols.oidc.authorization import AuthorizationRequest
from ostiary.protocols.oidc.authorize import AuthorizeService, Suspended
from ostiary.protocols.oidc.routes import NO_STORE, browser_token, render_outcome
from ostiary.runtime import Runtime
from ostiary.users.models import DomainKind, User
from ostiary.web.account_nav import SECTIONS
from ostiary.web.branding import show_users_brand
from ostiary.web.templating import templates

router = APIRouter(include_in_schema=False)
HOME = "/account/security"
FORGED = "This form has expired. Open the page again and try once more."


class FormExpired(Forbidden):
    """A form of a signed-in browser whose token is not its session's own (a forged post, or a
    page from an earlier session): refused with 403 as the API would, and nothing changes."""

    kind = "form-expired"


def form_expired_page(request: Request, exc: Exception) -> Response:
    return templates.TemplateResponse(
        request, "form_expired.html", {"problem": FORGED}, status_code=403, headers=NO_STORE
    )


def csrf_token(runtime: Runtime, browser: BrowserSession) -> str:
    key = runtime.settings.effective_secret_key
    return hmac.new(key, f"account-csrf:{browser.id}".encode(), hashlib.sha256).hexdigest()


def signed_in(
    request: Request, runtime: Runtime, session: OstiarySession
) -> tuple[BrowserSession, User] | None:
    browser = SessionService(session, runtime.settings).resolve(browser_token(request, runtime))
    user = session.get(User, browser.user_id) if browser is not None else None
    if browser is None or user is None:
        return None
    if user.language:
        request.state.language_preferences = [user.language]
    return browser, user


def checked(
    request: Request, runtime: Runtime, session: OstiarySession, csrf: str
) -> tuple[BrowserSession, User] | None:
    """The signed-in user of a form, if a suspension does not keep them out (then the page
    they come back to says so); ``FormExpired`` when its token is not the session's."""
    found = signed_in(request, runtime, session)
    if found is None:
        return None
    if not hmac.compare_digest(csrf_token(runtime, found[0]), csrf):
        raise FormExpired(FORGED)
    if AuthorizeService(runtime, session).shut_out(found[1]) is not None:
        return None
    return found


def suspended_page(
    request: Request, runtime: Runtime, session: OstiarySession, user: User
) -> Response | None:
    """The page the login shows when a suspension keeps the user out of every context of
    theirs (``AuthorizeService.shut_out``, the decision the authorization endpoint makes);
    None when it does not."""
    closed = AuthorizeService(runtime, session).shut_out(user)
    if closed is None:
        return None
    return render_outcome(request, runtime, Suspended(closed.name))


def actor_of(request: Request, user: User) -> Actor:
    return Actor(user.username, "web", user.id, request.client.host if request.client else None)


def _home() -> Response:
    return RedirectResponse(HOME, status_code=303, headers=NO_STORE)


def _page(
    request: Request,
    runtime: Runtime,
    session: OstiarySession,
    browser: BrowserSession,
    user: User,
    *,
    status: int = 200,
    error: str | None = None,
    **extra: object,
) -> Response:
    overview = FactorService(session, runtime, actor_of(request, user)).overview(user)
    show_users_brand(request, session, user)
    context = {
        "csrf": csrf_token(runtime, browser),
        "user": user,
        "factors": overview,
        "fresh": fresh(browser, runtime.settings),
        "local": user.domain.kind == DomainKind.LOCAL and not user.service_account,
        "minutes": runtime.settings.step_up_minutes,
        "error": error,
        "account_nav": SECTIONS,
        "active": "security",
        **extra,
    }
    return templates.TemplateResponse(
        request, "account_security.html", context, status_code=status, headers=NO_STORE
    )


@router.get("/account/security")
def security_page(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    found = signed_in(request, runtime, session)
    if found is None:
        return sign_in_first(runtime, session, HOME)
    closed = suspended_page(request, runtime, session, found[1])
    if closed is not None:
        return closed
    return _page(request, runtime, session, *found)


def sign_in_first(runtime: Runtime, session: OstiarySession, return_to: str) -> Response:
    """A login that comes back to ``return_to`` (a page of this server)."""
    with session.atomic():
        state = LoginState(
            request=AuthorizationRequest(client_id="", redirect_uri=return_to, scope=[]),
            return_to=return_to,
        )
        flow = AuthorizeService(runtime, session).flows.begin(state)
    return RedirectResponse(f"/login?flow={flow.id}", status_code=303, headers=NO_STORE)


def prove_again(
    request: Request,
    runtime: Runtime,
    session: OstiarySession,
    browser: BrowserSession,
    user: User,
    method: str,
    secret: str,
) -> bool:
    """The password, or a code of the authenticator app, again: the session is recent for
    ``OSTIARY_STEP_UP_MINUTES``. Counted like second-factor entries."""
    stage = SecondFactorStage(session, runtime)
    with session.atomic():
        ok = stage.codes.take_try(user)
        if ok and method == "totp":
            ok = TotpService(session, runtime).verify(user, secret)
        elif ok:
            ok = runtime.passwords.verify(user.password_hash, secret)
        if ok:
            stage.codes.passed(user)
            mark(browser)
            AuditLog(session).record(
                actor_of(request, user),
                "session.reauthenticated",
                target_type="user",
                target_id=user.id,
                changes={"method": "totp" if method == "totp" else "pwd"},
            )
    return ok


def _refuse(request: Request, runtime: Runtime) -> Response:
    return RedirectResponse(HOME, status_code=303, headers=NO_STORE)


@router.post("/account/security/confirm")
def confirm(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()],
    method: Annotated[str, Form()] = "password",
    secret: Annotated[str, Form()] = "",
) -> Response:
    """Prove it is you again: the password, or a code of the authenticator app."""
    found = checked(request, runtime, session, csrf)
    if found is None:
        return _refuse(request, runtime)
    browser, user = found
    if not prove_again(request, runtime, session, browser, user, method, secret):
        return _page(
            request,
            runtime,
            session,
            browser,
            user,
            status=401,
            error="That did not match. Try again.",
        )
    return _home()


def _fresh_or_none(
    request: Request, runtime: Runtime, session: OstiarySession, csrf: str
) -> tuple[BrowserSession, User] | None:
    found = checked(request, runtime, session, csrf)
    if found is None or not fresh(found[0], runtime.settings):
        return None
    if found[1].domain.kind != DomainKind.LOCAL or found[1].service_account:
        return None
    return found


@router.post("/account/security/authenticator-app")
def begin_totp(
    request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Annotated[str, Form()]
) -> Response:
    found = _fresh_or_none(request, runtime, session, csrf)
    if found is None:
        return _home()
    browser, user = found
    enrolment = TotpService(session, runtime).begin(user)
    return _page(request, runtime, session, browser, user, enrolment=enrolment)


@router.post("/account/security/authenticator-app/confirm")
def confirm_totp(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()],
    code: Annotated[str, Form()] = "",
) -> Response:
    found = _fresh_or_none(request, runtime, session, csrf)
    if found is None:
        return _home()
    browser, user = found
    try:
        codes = FactorService(session, runtime, actor_of(request, user)).confirm_totp(user, code)
    except RuleViolation:
        service = TotpService(session, runtime)
        pending = service.pending(user)
        enrolment = service.enrolment(user, pending) if pending is not None else None
        return _page(
            request,
            runtime,
            session,
            browser,
            user,
            status=422,
            error="The code does not match. Enter the code your app shows now.",
            enrolment=enrolment,
        )
    if codes:
        return _page(request, runtime, session, browser, user, recovery_codes=codes)
    return _home()


@router.post("/account/security/authenticator-app/remove")
def remove_totp(
    request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Annotated[str, Form()]
) -> Response:
    found = _fresh_or_none(request, runtime, session, csrf)
    if found is not None:
        TotpService(session, runtime).remove(found[1], actor_of(request, found[1]))
    return _home()


@router.post("/account/security/recovery-codes")
def new_recovery_codes(
    request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Annotated[str, Form()]
) -> Response:
    found = _fresh_or_none(request, runtime, session, csrf)
    if found is None:
        return _home()
    browser, user = found
    codes = RecoveryCodes(session).generate(user, actor_of(request, user))
    return _page(request, runtime, session, browser, user, recovery_codes=codes)


@router.post("/account/security/passkeys/options")
def passkey_options(
    request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Annotated[str, Form()]
) -> Response:
    found = _fresh_or_none(request, runtime, session, csrf)
    if found is None:
        return JSONResponse({"error": "sign in again"}, status_code=403, headers=NO_STORE)
    browser, user = found
    with session.atomic():
        ceremony = PasskeyService(session, runtime).registration_options(user, browser.id)
    return JSONResponse(
        {"challenge_id": str(ceremony.challenge_id), "options": ceremony.options},
        headers=NO_STORE,
    )


@router.post("/account/security/passkeys")
def register_passkey(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()],
    challenge: Annotated[str, Form()] = "",
    credential: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    found = _fresh_or_none(request, runtime, session, csrf)
    if found is None:
        return _home()
    browser, user = found
    try:
        with session.atomic():
            PasskeyService(session, runtime).register(
                user, browser.id, uuid.UUID(challenge), credential, name, actor_of(request, user)
            )
            recovery = RecoveryCodes(session)
            codes = (
                recovery.generate(user, actor_of(request, user))
                if not recovery.remaining(user)
                else None
            )
    except (PasskeyError, ValueError):
        return _page(
            request,
            runtime,
            session,
            browser,
            user,
            status=422,
            error="The passkey could not be saved. Try again.",
        )
    if codes:
        return _page(request, runtime, session, browser, user, recovery_codes=codes)
    return _home()


@router.post("/account/security/passkeys/{passkey_id}/remove")
def remove_passkey(
    passkey_id: uuid.UUID,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()],
) -> Response:
    found = _fresh_or_none(request, runtime, session, csrf)
    if found is not None:
        FactorService(session, runtime, actor_of(request, found[1])).remove_passkey(
            found[1], passkey_id
        )
    return _home()
