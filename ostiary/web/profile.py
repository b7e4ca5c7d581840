"""``/account``: a user's own profile in the browser. Names and language change at once; a new
e-mail address or phone number leads to a page for the code sent to it, and the link in the
e-mail opens ``/account/verify-email``.

Like ``/account/security``: the page needs a browser session (else a login that comes back
here), forms carry a token bound to the session, and a new address or number needs a recent
sign-in (the page asks for the password first). Errors show next to their field, with what was
typed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.audit.actor import Actor
from ostiary.authn.factors.codes import Verdict, mask
from ostiary.authn.factors.stepup import fresh
from ostiary.authn.models import BrowserSession
from ostiary.authn.throttle import Throttled
from ostiary.db.session import OstiarySession
from ostiary.errors import AlreadyExists, OstiaryError
from ostiary.i18n import available
from ostiary.protocols.oidc.routes import NO_STORE
from ostiary.runtime import Runtime
from ostiary.users import profile as rules
from ostiary.users.models import ContactField, DomainKind, User
from ostiary.users.profile import ProfileService, TooManyTries, VerificationFailed
from ostiary.users.schemas import EmailChange, PhoneChange, ProfileUpdate
from ostiary.web.account_nav import SECTIONS
from ostiary.web.security import (
    actor_of,
    checked,
    csrf_token,
    prove_again,
    sign_in_first,
    signed_in,
    suspended_page,
)
from ostiary.web.templating import templates

router = APIRouter(include_in_schema=False)
HOME = "/account"

# What the page says for what the rules refuse (the API's details are for programs).
REFUSALS = {
    rules.TAKEN: "This e-mail address cannot be used.",
    rules.SAME[ContactField.EMAIL]: "This is your e-mail address already.",
    rules.SAME[ContactField.PHONE]: "This is your phone number already.",
    rules.SMS_REFUSED: "Codes cannot be sent by SMS to this number. Use another number.",
    rules.CANNOT_SEND[ContactField.EMAIL]: "E-mail cannot be sent now. Try again later.",
    rules.CANNOT_SEND[ContactField.PHONE]: "SMS cannot be sent now. Try again later.",
    rules.DELEGATED: "Your organization's identity provider keeps your profile. Change it there.",
}
INVALID = {
    "first_name": "At most 100 characters.",
    "last_name": "At most 100 characters.",
    "language": "Choose a language from the list.",
    "email": "Enter a valid e-mail address.",
    "phone": "Enter the number in international form, such as +41446681800.",
}
VERDICTS = {
    Verdict.WRONG: "The code is not correct.",
    Verdict.EXPIRED: "The code has expired. Ask for a new one.",
    Verdict.SPENT: "This code cannot be used any more. Ask for a new one.",
    Verdict.NO_CODE: "No change is waiting for a code. Ask for a new one.",
    Verdict.LOCKED: "Too many wrong codes. Try again later.",
}
THROTTLED = "Too many codes were sent lately. Try again later."
LINK_FAILED = "This link was used already or has expired. Ask for a new one on your profile."
CONFIRM_FAILED = "That did not match. Try again."
CHANGED = {
    ContactField.EMAIL: "Your e-mail address is changed.",
    ContactField.PHONE: "Your phone number is changed.",
}


def _service(
    request: Request, runtime: Runtime, session: OstiarySession, user: User
) -> ProfileService:
    return ProfileService(session, runtime, actor_of(request, user))


def _home(changed: ContactField | None = None) -> Response:
    target = f"{HOME}?changed={changed}" if changed else HOME
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


def _page(
    request: Request,
    runtime: Runtime,
    session: OstiarySession,
    browser: BrowserSession,
    user: User,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    values = {
        "first_name": user.first_name or "",
        "last_name": user.last_name or "",
        "language": user.language or "",
        "email": "",
        "phone": "",
        **(typed or {}),
    }
    context = {
        "csrf": csrf_token(runtime, browser),
        "user": user,
        "profile": _service(request, runtime, session, user).profile(user),
        "delegated": user.domain.kind == DomainKind.DELEGATED,
        "fresh": fresh(browser, runtime.settings),
        "minutes": runtime.settings.step_up_minutes,
        "languages": sorted(available()),
        "values": values,
        "errors": errors or {},
        "notice": notice,
        "account_nav": SECTIONS,
        "active": "profile",
    }
    return templates.TemplateResponse(
        request, "account_profile.html", context, status_code=status, headers=NO_STORE
    )


def _refused(exc: OstiaryError, field: str) -> dict[str, str]:
    if isinstance(exc, Throttled):
        return {field: THROTTLED}
    if isinstance(exc, AlreadyExists):
        return {"email": REFUSALS[rules.TAKEN]}
    return {exc.field or field: REFUSALS.get(exc.detail, exc.detail)}


def _invalid(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        errors.setdefault(name, INVALID.get(name, "Check this field."))
    return errors


@router.get("/account")
def profile_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, changed: str = ""
) -> Response:
    found = signed_in(request, runtime, session)
    if found is None:
        return sign_in_first(runtime, session, HOME)
    closed = suspended_page(request, runtime, session, found[1])
    if closed is not None:
        return closed
    notice = CHANGED.get({str(f): f for f in ContactField}.get(changed))  # type: ignore[arg-type]
    return _page(request, runtime, session, *found, notice=notice)


@router.post("/account/profile")
def update_profile(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()],
    first_name: Annotated[str, Form()] = "",
    last_name: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "",
) -> Response:
    found = checked(request, runtime, session, csrf)
    if found is None:
        return _home()
    browser, user = found
    typed = {"first_name": first_name, "last_name": last_name, "language": language}
    try:
        data = ProfileUpdate(
            first_name=first_name.strip() or None,
            last_name=last_name.strip() or None,
            language=language.strip() or None,
        )
        if data.language is not None and data.language not in available():
            errors = {"language": INVALID["language"]}
            return _page(
                request, runtime, session, browser, user, status=422, errors=errors, typed=typed
            )
        _service(request, runtime, session, user).update(user, data)
    except ValidationError as exc:
        return _page(
            request, runtime, session, browser, user, status=422, errors=_invalid(exc), typed=typed
        )
    except OstiaryError as exc:
        return _page(
            request,
            runtime,
            session,
            browser,
            user,
            status=exc.status,
            errors=_refused(exc, "first_name"),
            typed=typed,
        )
    return _home()


@router.post("/account/confirm")
def confirm(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()],
    secret: Annotated[str, Form()] = "",
) -> Response:
    """Prove it is you again (the password) before changing the e-mail address or phone."""
    found = checked(request, runtime, session, csrf)
    if found is None:
        return _home()
    browser, user = found
    if not prove_again(request, runtime, session, browser, user, "password", secret):
        return _page(
            request, runtime, session, browser, user, status=401, errors={"confirm": CONFIRM_FAILED}
        )
    return _home()


def _request_change(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    field: ContactField,
    csrf: Annotated[str, Form()],
    value: Annotated[str, Form()] = "",
) -> Response:
    """A new e-mail address or phone number: the code goes there, the code page comes next."""
    found = checked(request, runtime, session, csrf)
    if found is None:
        return _home()
    browser, user = found
    if not fresh(browser, runtime.settings):
        return _page(request, runtime, session, browser, user, status=403)
    typed = {str(field): value}
    try:
        parsed = (
            EmailChange(email=value).email
            if field is ContactField.EMAIL
            else PhoneChange(phone=value).phone
        )
        _service(request, runtime, session, user).request(user, field, parsed)
    except ValidationError as exc:
        return _page(
            request, runtime, session, browser, user, status=422, errors=_invalid(exc), typed=typed
        )
    except OstiaryError as exc:
        return _page(
            request,
            runtime,
            session,
            browser,
            user,
            status=exc.status,
            errors=_refused(exc, str(field)),
            typed=typed,
        )
    return RedirectResponse(f"{HOME}/{field}/verify", status_code=303, headers=NO_STORE)


def _code_page(
    request: Request,
    runtime: Runtime,
    session: OstiarySession,
    browser: BrowserSession,
    user: User,
    field: ContactField,
    *,
    status: int = 200,
    error: str | None = None,
) -> Response:
    pending = {p.field: p for p in _service(request, runtime, session, user).profile(user).pending}
    waiting = pending.get(str(field))  # type: ignore[call-overload]
    channel = rules.CHANNELS[field]
    context = {
        "csrf": csrf_token(runtime, browser),
        "field": str(field),
        "sent_to": mask(channel, waiting.value) if waiting else None,
        "error": error,
    }
    return templates.TemplateResponse(
        request, "account_verify.html", context, status_code=status, headers=NO_STORE
    )


def _show_code_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, field: ContactField
) -> Response:
    found = signed_in(request, runtime, session)
    if found is None:
        return sign_in_first(runtime, session, f"{HOME}/{field}/verify")
    closed = suspended_page(request, runtime, session, found[1])
    if closed is not None:
        return closed
    return _code_page(request, runtime, session, *found, field)


def _enter_code(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    field: ContactField,
    csrf: Annotated[str, Form()],
    code: Annotated[str, Form()] = "",
) -> Response:
    found = checked(request, runtime, session, csrf)
    if found is None:
        return _home()
    browser, user = found
    try:
        _service(request, runtime, session, user).verify(user, field, code)
    except VerificationFailed as exc:
        error = VERDICTS.get(exc.verdict, VERDICTS[Verdict.WRONG])
        return _code_page(request, runtime, session, browser, user, field, status=422, error=error)
    except TooManyTries:
        error = VERDICTS[Verdict.LOCKED]
        return _code_page(request, runtime, session, browser, user, field, status=429, error=error)
    except OstiaryError as exc:
        error = next(iter(_refused(exc, str(field)).values()))
        return _code_page(
            request, runtime, session, browser, user, field, status=exc.status, error=error
        )
    return _home(changed=field)


# -- the link in the e-mail ------------------------------------------------------------------


def _link_page(request: Request, status: int = 200, **context: object) -> Response:
    return templates.TemplateResponse(
        request, "account_verify_link.html", context, status_code=status, headers=NO_STORE
    )


@router.get("/account/verify-email")
def link_page(request: Request, token: str = "") -> Response:
    """Ask before using the link: mail scanners that open every link change nothing."""
    return _link_page(request, token=token)


@router.post("/account/verify-email")
def use_link(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    token: Annotated[str, Form()] = "",
) -> Response:
    actor = Actor("(e-mail link)", "web", None, request.client.host if request.client else None)
    try:
        user = ProfileService(session, runtime, actor).verify_link(token)
    except AlreadyExists:
        return _link_page(request, 409, error=REFUSALS[rules.TAKEN])
    if user is None:
        return _link_page(request, 410, error=LINK_FAILED)
    if user.language:
        request.state.language_preferences = [user.language]
    return _link_page(request, done=user.email)


# Last: ``/account/{field}`` must not shadow the routes above.
router.add_api_route("/account/{field}", _request_change, methods=["POST"])
router.add_api_route("/account/{field}/verify", _show_code_page, methods=["GET"])
router.add_api_route("/account/{field}/verify", _enter_code, methods=["POST"])
