"""Running an account page: the browser session and its user, the form's token, the
navigation and branding every account page shows, refusals as a page.

Without a browser session a page starts a login that comes back to it (a form goes back to
its page); a form whose token does not belong to the session is refused with 403 and changes
nothing; a refusal of a service shows with its status.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from ostiary.authn.models import BrowserSession
from ostiary.db.session import OstiarySession
from ostiary.errors import OstiaryError
from ostiary.protocols.oidc.routes import NO_STORE
from ostiary.runtime import Runtime
from ostiary.users.models import User
from ostiary.web.account_nav import SECTIONS
from ostiary.web.branding import show_users_brand
from ostiary.web.security import FORGED, csrf_token, sign_in_first, signed_in, suspended_page
from ostiary.web.templating import templates

Work = Callable[[BrowserSession, User], Response]


def back(target: str) -> Response:
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


def render_account(
    request: Request,
    runtime: Runtime,
    session: OstiarySession,
    browser: BrowserSession,
    user: User,
    template: str,
    active: str,
    *,
    status: int = 200,
    **context: object,
) -> Response:
    show_users_brand(request, session, user)
    values = {
        "csrf": csrf_token(runtime, browser),
        "user": user,
        "account_nav": SECTIONS,
        "active": active,
        "errors": {},
        **context,
    }
    return templates.TemplateResponse(
        request, template, values, status_code=status, headers=NO_STORE
    )


def account_page(
    request: Request,
    runtime: Runtime,
    session: OstiarySession,
    home: str,
    work: Work,
    *,
    csrf: str | None = None,
) -> Response:
    """Run ``work`` for the signed-in user of this browser."""
    found = signed_in(request, runtime, session)
    if found is None:
        if request.method != "GET":
            return back(home)
        return sign_in_first(runtime, session, home)
    browser, user = found
    closed = suspended_page(request, runtime, session, user)
    if closed is not None:
        # Every organization of theirs is suspended: the login's page, and no change.
        return closed
    if csrf is not None and not hmac.compare_digest(csrf_token(runtime, browser), csrf):
        return render_account(
            request,
            runtime,
            session,
            browser,
            user,
            "account_refused.html",
            "",
            status=403,
            problem=FORGED,
            home=home,
        )
    try:
        return work(browser, user)
    except OstiaryError as exc:
        session.rollback()
        return render_account(
            request,
            runtime,
            session,
            browser,
            user,
            "account_refused.html",
            "",
            status=exc.status,
            problem=exc.detail,
            home=home,
        )
