"""``/account/password``: the signed-in user changes their own password, through the service
of ``POST /api/v1/me/password`` (the current password counted like a login attempt, the new
one checked by the password policy). The user's other sessions end and their tokens are
revoked; the session the change is made from lives on. A user whose organization's identity
provider keeps their password is told to change it there.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.authn.models import BrowserSession
from ostiary.authn.password_change import PasswordChanges
from ostiary.authn.throttle import Throttled
from ostiary.errors import InvalidInput, RuleViolation
from ostiary.i18n import Translator
from ostiary.users.models import DomainKind, User
from ostiary.web.account_pages import account_page, back, render_account
from ostiary.web.reset import field_errors, wait_message
from ostiary.web.security import actor_of
from ostiary.web.templating import page_language

router = APIRouter(include_in_schema=False)
HOME = "/account/password"

# The page's words for the refusals of the service that the policy's texts do not cover.
WRONG_CURRENT = "This is not your current password."
SAME = "Choose a password other than your current one."
MISMATCH = "The two passwords are not the same."
NOT_LOCAL = "This account has no password to change here."
DELEGATED = "Your organization's identity provider keeps your password. Change it there."
CHANGED = "Your password is changed. Your other sessions have ended."
TEXTS = {"current": WRONG_CURRENT, "same": SAME}


def _page(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    browser: BrowserSession,
    user: User,
    *,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    notice: str | None = None,
) -> Response:
    return render_account(
        request,
        runtime,
        session,
        browser,
        user,
        "account_password.html",
        "password",
        status=status,
        delegated=user.domain.kind == DomainKind.DELEGATED,
        has_password=bool(user.password_hash) and not user.service_account,
        min_length=runtime.passwords.min_length,
        errors=errors or {},
        notice=notice,
    )


@router.get("/account/password")
def password_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, done: str = ""
) -> Response:
    def work(browser: BrowserSession, user: User) -> Response:
        notice = CHANGED if done == "changed" else None
        return _page(request, runtime, session, browser, user, notice=notice)

    return account_page(request, runtime, session, HOME, work)


@router.post("/account/password")
def change_password(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    confirmation: Annotated[str, Form()] = "",
) -> Response:
    def work(browser: BrowserSession, user: User) -> Response:
        translate = Translator(page_language(request))
        if new_password != confirmation:
            errors = {"confirmation": [translate(MISMATCH)]}
            return _page(request, runtime, session, browser, user, status=422, errors=errors)
        try:
            PasswordChanges(runtime, session, actor_of(request, user)).change(
                user, current_password, new_password, current_session_id=browser.id
            )
        except InvalidInput as exc:
            errors = field_errors(request, exc.problems)
            for problem in exc.problems:
                if problem.rule in TEXTS:
                    errors[problem.field] = [translate(TEXTS[problem.rule])]
            return _page(request, runtime, session, browser, user, status=422, errors=errors)
        except Throttled as exc:
            errors = {"current_password": [wait_message(request, exc.retry_after)]}
            return _page(request, runtime, session, browser, user, status=429, errors=errors)
        except RuleViolation:
            delegated = user.domain.kind == DomainKind.DELEGATED
            errors = {"current_password": [translate(DELEGATED if delegated else NOT_LOCAL)]}
            return _page(request, runtime, session, browser, user, status=422, errors=errors)
        return back(f"{HOME}?done=changed")

    return account_page(request, runtime, session, HOME, work, csrf=csrf)
