"""``/register``: an organization registers itself with its contact person, or a person asks
to join an organization; then the code (or link) that proves the address, and the phone's.

Forms are protected by a double-submit token: a random cookie of this path and, in the form,
its HMAC under the server's key. Registration is off (404) unless ``OSTIARY_REGISTRATION_PARENT``
names a context.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.authn.throttle import Throttled
from ostiary.errors import InvalidInput, NotFound, OstiaryError, RuleViolation
from ostiary.invitations.acceptance import sms_needed
from ostiary.protocols.oidc.routes import NO_STORE
from ostiary.registrations.models import RegistrationState
from ostiary.registrations.services import Progress, RegistrationService
from ostiary.runtime import Runtime
from ostiary.users.profile import VerificationFailed
from ostiary.web.reset import field_errors, wait_message
from ostiary.web.templating import said, templates

router = APIRouter(include_in_schema=False)
HOME = "/register"
COOKIE = "ostiary_registration"
KEPT = (
    "organization",
    "number",
    "email_domains",
    "first_name",
    "last_name",
    "email",
    "phone",
    "language",
)


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _service(request: Request, runtime: Runtime, session: SessionDep) -> RegistrationService:
    return RegistrationService(session, runtime, _address(request))


def _csrf(runtime: Runtime, nonce: str) -> str:
    key = runtime.settings.effective_secret_key
    return hmac.new(key, f"registration-csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def _csrf_ok(request: Request, runtime: Runtime, given: str) -> bool:
    nonce = request.cookies.get(COOKIE, "")
    return bool(nonce) and hmac.compare_digest(_csrf(runtime, nonce), given)


def _said(request: Request, exc: OstiaryError, field: str) -> dict[str, list[str]]:
    """A service's refusal next to its field, in the page's language; a wait in words."""
    if isinstance(exc, Throttled):
        return {exc.field or field: [wait_message(request, exc.retry_after)]}
    return {exc.field or field: [said(request, exc.text)]}


def _page(request: Request, runtime: Runtime, status: int = 200, **context: object) -> Response:
    """The page, with the form token (and its cookie, when the browser has none yet)."""
    nonce = request.cookies.get(COOKIE) or secrets.token_urlsafe(24)
    context.setdefault("errors", {})
    context.setdefault("values", {})
    context["csrf"] = _csrf(runtime, nonce)
    response = templates.TemplateResponse(
        request, "registration.html", context, status_code=status, headers=NO_STORE
    )
    if request.cookies.get(COOKIE) != nonce:
        secure = runtime.settings.issuer.startswith("https://")
        response.set_cookie(
            COOKIE, nonce, path=HOME, secure=secure, httponly=True, samesite="strict"
        )
    return response


def _form_page(
    request: Request, runtime: Runtime, join: bool, status: int = 200, **extra: object
) -> Response:
    return _page(
        request,
        runtime,
        status,
        view="join" if join else "organization",
        min_length=runtime.passwords.min_length,
        phone_required=sms_needed(runtime),
        **extra,
    )


@router.get("/register")
def registration_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, join: bool = False
) -> Response:
    try:
        _service(request, runtime, session).parent()
    except NotFound:
        return _page(request, runtime, 404, view="off")
    return _form_page(request, runtime, join)


@router.post("/register")
def register(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()],
    kind: Annotated[str, Form()] = "organization",
    organization: Annotated[str, Form()] = "",
    number: Annotated[str, Form()] = "",
    email_domains: Annotated[str, Form()] = "",
    first_name: Annotated[str, Form()] = "",
    last_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    confirmation: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "organization": organization,
        "number": number,
        "email_domains": email_domains,
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "password": password,
        "confirmation": confirmation,
        "phone": phone,
        "language": language,
    }
    join = kind == "join"
    if not _csrf_ok(request, runtime, csrf):
        return RedirectResponse(HOME, status_code=303, headers=NO_STORE)
    service = _service(request, runtime, session)
    typed = {k: v for k, v in form.items() if k in KEPT}
    request.state.language_preferences = [form["language"]] if form.get("language") else []
    try:
        progress = service.register_to_join(form) if join else service.register_organization(form)
    except InvalidInput as exc:
        errors = field_errors(request, exc.problems)
        return _form_page(request, runtime, join, 422, errors=errors, values=typed)
    except NotFound as exc:
        if exc.field == "organization" and join:
            errors = _said(request, exc, "organization")
            return _form_page(request, runtime, join, 422, errors=errors, values=typed)
        return _page(request, runtime, 404, view="off")
    except (RuleViolation, Throttled) as exc:
        errors = _said(request, exc, "email")
        return _form_page(request, runtime, join, 422, errors=errors, values=typed)
    return RedirectResponse(
        f"{HOME}/verify?registration={progress.registration_id}", status_code=303, headers=NO_STORE
    )


def _progress_page(
    request: Request, runtime: Runtime, progress: Progress, status: int = 200, **extra: object
) -> Response:
    if progress.awaiting is None:
        view = "approved" if progress.state == RegistrationState.APPROVED else "submitted"
        return _page(request, runtime, status, view=view)
    return _page(
        request,
        runtime,
        status,
        view="verify",
        awaiting=str(progress.awaiting),
        registration=progress.registration_id,
        **extra,
    )


@router.get("/register/verify")
def verify_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, registration: uuid.UUID
) -> Response:
    return _progress_page(
        request, runtime, _service(request, runtime, session).progress(registration)
    )


@router.post("/register/verify")
def verify(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    registration: Annotated[uuid.UUID, Form()],
    csrf: Annotated[str, Form()],
    code: Annotated[str, Form()] = "",
) -> Response:
    service = _service(request, runtime, session)
    if not _csrf_ok(request, runtime, csrf):
        return RedirectResponse(
            f"{HOME}/verify?registration={registration}", status_code=303, headers=NO_STORE
        )
    try:
        progress = service.verify_code(registration, code)
    except (VerificationFailed, Throttled) as exc:
        status = 429 if isinstance(exc, Throttled) else 422
        errors = _said(request, exc, "code")
        return _progress_page(
            request, runtime, service.progress(registration), status, errors=errors
        )
    except OstiaryError as exc:
        errors = _said(request, exc, "code")
        return _progress_page(request, runtime, service.progress(registration), 422, errors=errors)
    return _progress_page(request, runtime, progress)


@router.get("/register/confirm")
def confirm(
    request: Request, runtime: RuntimeDep, session: SessionDep, token: str = ""
) -> Response:
    progress = _service(request, runtime, session).confirm_link(token)
    if progress is None:
        return _page(request, runtime, 404, view="link-unusable")
    return _progress_page(request, runtime, progress)
