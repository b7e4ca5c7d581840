"""Pages to reset a forgotten password (``ostiary.authn.resets``): ``/login/forgot`` asks for
the username or e-mail and answers the same whoever it is, ``/login/reset`` sets the new
password through the e-mailed link. Neither signs anybody in.

The forgot form carries no CSRF token: posting it from elsewhere can only send the account's
owner a link (throttled), and the reset form is worthless without the secret link.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import Response

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.authn.flow import LoginFlows, LoginState, OpenFlow
from ostiary.authn.policy import (
    RULE_COMMON,
    RULE_EMAIL,
    RULE_MAX_LENGTH,
    RULE_MIN_LENGTH,
    RULE_USERNAME,
)
from ostiary.authn.resets import PasswordResets, deliver_in_background
from ostiary.authn.throttle import Throttled
from ostiary.branding.resolution import Brand, BrandingResolver
from ostiary.db.session import OstiarySession
from ostiary.errors import FieldProblem, InvalidInput, NotFound
from ostiary.i18n import Translator
from ostiary.runtime import Runtime
from ostiary.users.models import User
from ostiary.web.branding import dress_for_flow, show_brand, show_users_brand
from ostiary.web.templating import page_language, templates

router = APIRouter(include_in_schema=False)
HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}

WAIT_SECONDS = "Too many attempts. Wait {seconds} seconds, then try again."
WAIT_MINUTES = "Too many attempts. Wait {minutes} minutes, then try again."
# The page's words for each rule of the policy (ostiary.authn.policy); {n} is a length.
RULE_TEXTS = {
    RULE_MIN_LENGTH: "Use at least {n} characters.",
    RULE_MAX_LENGTH: "Use at most {n} characters.",
    RULE_COMMON: "This is one of the 10,000 most common passwords. Choose another one.",
    RULE_USERNAME: "The password must not contain your username.",
    RULE_EMAIL: "The password must not contain the name of your e-mail address.",
    "match": "The two passwords are not the same.",
    "required": "This is needed: sign-in codes are sent to it by SMS.",
    "email": "Enter a valid e-mail address.",
}


def wait_message(request: Request, seconds: int) -> str:
    """The throttled answer's words, in the page's language."""
    translate = Translator(page_language(request))
    if seconds < 120:
        return translate(WAIT_SECONDS, seconds=seconds)
    return translate(WAIT_MINUTES, minutes=-(-seconds // 60))


def _page(
    request: Request,
    name: str,
    status: int = 200,
    *,
    retry_after: int | None = None,
    **context: object,
) -> Response:
    headers = dict(HEADERS)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return templates.TemplateResponse(request, name, context, status_code=status, headers=headers)


def _find(session: OstiarySession, flow: str) -> tuple[OpenFlow, LoginState] | None:
    # Finding a flow does not depend on the lifetime of new ones.
    return LoginFlows(session, timedelta(0)).find(flow) if flow else None


def _prefer(request: Request, languages: list[str | None]) -> None:
    request.state.language_preferences = [lang for lang in languages if lang]


def _dress_forgot(request: Request, session: OstiarySession, flow: str) -> Brand:
    """The languages and branding of the login the page was opened from; the instance's
    branding without one."""
    found = _find(session, flow)
    if found is not None:
        return dress_for_flow(request, session, found[1])
    _prefer(request, [])
    return show_brand(request, BrandingResolver(session).brand(None))


def _dress_user(request: Request, session: OstiarySession, user: User) -> None:
    """A reset link's pages: the user's language and the branding of their contexts, as in
    the message that brought them here."""
    _prefer(request, [user.language])
    show_users_brand(request, session, user)


@router.get("/login/forgot")
def forgot_page(request: Request, session: SessionDep, flow: str = "") -> Response:
    _dress_forgot(request, session, flow)
    return _page(request, "forgot.html", flow=_valid(flow), sent=False, error=None)


@router.post("/login/forgot")
def forgot_submit(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    background: BackgroundTasks,
    identifier: Annotated[str, Form()] = "",
    flow: Annotated[str, Form()] = "",
) -> Response:
    brand = _dress_forgot(request, session, flow)
    address = request.client.host if request.client else None
    try:
        asked = PasswordResets(runtime, session, address).request(identifier[:320], brand)
    except Throttled as exc:
        return _page(
            request,
            "forgot.html",
            429,
            retry_after=exc.retry_after,
            flow=_valid(flow),
            sent=False,
            error=wait_message(request, exc.retry_after),
        )
    # Whatever depends on the account happens after the answer has gone out.
    background.add_task(deliver_in_background, runtime, asked)
    return _page(
        request,
        "forgot.html",
        flow=_valid(flow),
        sent=True,
        minutes=runtime.settings.password_reset_minutes,
        error=None,
    )


@router.get("/login/reset")
def reset_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, token: str = ""
) -> Response:
    resets = PasswordResets(runtime, session, None)
    try:
        user = resets.user_for(token)
    except NotFound:
        return _page(request, "reset.html", 404, expired=True)
    _dress_user(request, session, user)
    return _form(request, runtime, user, token, {})


@router.post("/login/reset")
def reset_submit(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    token: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    confirmation: Annotated[str, Form()] = "",
) -> Response:
    resets = PasswordResets(runtime, session, request.client.host if request.client else None)
    try:
        user = resets.user_for(token)
        _dress_user(request, session, user)
        resets.complete(token, password, confirmation)
    except NotFound:
        return _page(request, "reset.html", 404, expired=True)
    except InvalidInput as exc:
        return _form(request, runtime, user, token, field_errors(request, exc.problems), status=422)
    return _page(request, "reset.html", done=True)


def _form(
    request: Request,
    runtime: Runtime,
    user: User,
    token: str,
    errors: dict[str, list[str]],
    status: int = 200,
) -> Response:
    return _page(
        request,
        "reset.html",
        status,
        token=token,
        username=user.username,
        min_length=runtime.passwords.min_length,
        errors=errors,
    )


def field_errors(request: Request, problems: list[FieldProblem]) -> dict[str, list[str]]:
    """Each field's problems in the page's language."""
    translate = Translator(page_language(request))
    found: dict[str, list[str]] = {}
    for problem in problems:
        text = RULE_TEXTS.get(problem.rule or "")
        n = next((int(word) for word in problem.message.split() if word.isdigit()), 0)
        found.setdefault(problem.field, []).append(
            translate(text, n=n) if text else translate.text(problem.text)
        )
    return found


def _valid(flow: str) -> str:
    """The flow id to link back to, if it looks like one (it is checked when used)."""
    try:
        return str(uuid.UUID(flow))
    except ValueError:
        return ""
