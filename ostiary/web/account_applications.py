"""``/account/applications``: the applications the signed-in user has let in (live grants
and so tokens: since when, which scopes, in which organization), and taking one back: its
refresh tokens are refused and its access tokens are inactive from then on."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.authn.models import BrowserSession
from ostiary.authn.sessions import SessionService
from ostiary.db.session import OstiarySession
from ostiary.protocols.oidc.connections import ConnectedApplications
from ostiary.runtime import Runtime
from ostiary.users.models import User
from ostiary.web.account_pages import account_page, back, render_account
from ostiary.web.security import actor_of

router = APIRouter(include_in_schema=False)
HOME = "/account/applications"
REVOKED = "The application's access is revoked."
UNKNOWN = "This application has no access any more."


def _service(runtime: Runtime, session: OstiarySession) -> ConnectedApplications:
    return ConnectedApplications(session, SessionService(session, runtime.settings))


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
    return render_account(
        request,
        runtime,
        session,
        browser,
        user,
        "account_applications.html",
        "applications",
        status=status,
        connections=_service(runtime, session).of(user),
        notice=notice,
        error=error,
    )


@router.get("/account/applications")
def applications_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, done: str = ""
) -> Response:
    def work(browser: BrowserSession, user: User) -> Response:
        notice = REVOKED if done == "revoked" else None
        return _page(request, runtime, session, browser, user, notice=notice)

    return account_page(request, runtime, session, HOME, work)


@router.post("/account/applications/{client_id}/revoke")
def revoke_application(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    client_id: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(browser: BrowserSession, user: User) -> Response:
        try:
            chosen = uuid.UUID(client_id)
        except ValueError:
            chosen = None
        revoked = (
            _service(runtime, session).revoke(user, chosen, actor_of(request, user))
            if chosen is not None
            else 0
        )
        if not revoked:
            return _page(request, runtime, session, browser, user, status=404, error=UNKNOWN)
        return back(f"{HOME}?done=revoked")

    return account_page(request, runtime, session, HOME, work, csrf=csrf)
