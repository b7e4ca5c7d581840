"""``/account/sessions``: the signed-in user's live browser sessions (started, last seen,
address and browser), with the one in use marked; end one, or log out everywhere (every
session ends, this one too, and the tokens of applications standing on them stop working).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.authn.models import BrowserSession
from ostiary.authn.sessions import CookiePolicy, SessionService
from ostiary.protocols.oidc.routes import NO_STORE
from ostiary.users.models import User
from ostiary.web.account_pages import account_page, back, render_account
from ostiary.web.security import actor_of
from ostiary.web.templating import templates

router = APIRouter(include_in_schema=False)
HOME = "/account/sessions"
ENDED = "The session has ended."
GONE = "This session has ended already."


def _page(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    browser: BrowserSession,
    user: User,
    *,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    sessions = SessionService(session, runtime.settings).of_user(user)
    return render_account(
        request,
        runtime,
        session,
        browser,
        user,
        "account_sessions.html",
        "sessions",
        status=status,
        sessions=sessions,
        current=browser.id,
        notice=notice,
        error=error,
    )


@router.get("/account/sessions")
def sessions_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, done: str = ""
) -> Response:
    def work(browser: BrowserSession, user: User) -> Response:
        notice = ENDED if done == "ended" else None
        return _page(request, runtime, session, browser, user, notice=notice)

    return account_page(request, runtime, session, HOME, work)


@router.post("/account/sessions/everywhere")
def log_out_everywhere(
    request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    def work(browser: BrowserSession, user: User) -> Response:
        SessionService(session, runtime.settings).end_everywhere(user, actor_of(request, user))
        response = templates.TemplateResponse(request, "logged_out.html", {}, headers=NO_STORE)
        policy = CookiePolicy.for_issuer(runtime.settings.issuer)
        response.delete_cookie(
            policy.name, path="/", secure=policy.secure, httponly=True, samesite="lax"
        )
        return response

    return account_page(request, runtime, session, HOME, work, csrf=csrf)


@router.post("/account/sessions/{session_id}/end")
def end_session(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    session_id: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(browser: BrowserSession, user: User) -> Response:
        try:
            chosen = uuid.UUID(session_id)
        except ValueError:
            chosen = None
        sessions = SessionService(session, runtime.settings)
        if chosen is None or not sessions.end_own(user, chosen, actor_of(request, user)):
            return _page(request, runtime, session, browser, user, status=404, error=GONE)
        if chosen == browser.id:
            return back("/account")
        return back(f"{HOME}?done=ended")

    return account_page(request, runtime, session, HOME, work, csrf=csrf)
