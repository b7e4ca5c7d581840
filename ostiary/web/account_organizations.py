"""``/account/organizations``: the organizations (contexts) the signed-in user belongs to,
with their groups there; the pending invitations to the account's own e-mail address, which
the user accepts here as through the invitation's link; the requests to join an organization
that the user made, with their state (one that waits can be withdrawn); and a new request, where ``POST
/api/v1/me/join-requests`` takes them (the same service)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.authn.models import BrowserSession
from ostiary.errors import AlreadyExists, NotFound, OstiaryError, RuleViolation
from ostiary.invitations.acceptance import Acceptance
from ostiary.registrations.services import RegistrationService
from ostiary.users.memberships import MembershipService
from ostiary.users.models import User
from ostiary.web.account_pages import account_page, back, render_account
from ostiary.web.security import actor_of

router = APIRouter(include_in_schema=False)
HOME = "/account/organizations"
JOINED = "You are a member now."
ASKED = "Your request is sent."
WITHDRAWN = "Your request is withdrawn."
REQUEST_GONE = "This request cannot be withdrawn any more."
INVITATION_GONE = "This invitation cannot be accepted any more."
# What the page says for what the service refuses.
ASK_REFUSALS = {
    NotFound: "No organization takes requests under this name or number.",
    AlreadyExists: "You are a member already, or your request waits already.",
    RuleViolation: "Only an active account with an e-mail address can ask.",
}
ASK_EMPTY = "Enter the organization's customer number or exact name."
NOTICES = {"joined": JOINED, "asked": ASKED, "withdrawn": WITHDRAWN}


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _page(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    browser: BrowserSession,
    user: User,
    *,
    status: int = 200,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    typed: str = "",
) -> Response:
    memberships = MembershipService(session, actor_of(request, user))
    registrations = RegistrationService(session, runtime, _address(request))
    return render_account(
        request,
        runtime,
        session,
        browser,
        user,
        "account_organizations.html",
        "organizations",
        status=status,
        contexts=[context for _, context in memberships.list(user)],
        groups=memberships.groups_of(user),
        invitations=Acceptance(runtime, session, _address(request)).addressed_to(user),
        requests=registrations.requests_of(user),
        may_ask=registrations.joining_offered(),
        notice=notice,
        errors=errors or {},
        typed=typed,
    )


@router.get("/account/organizations")
def organizations_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, done: str = ""
) -> Response:
    def work(browser: BrowserSession, user: User) -> Response:
        return _page(request, runtime, session, browser, user, notice=NOTICES.get(done))

    return account_page(request, runtime, session, HOME, work)


@router.post("/account/organizations/invitations/{invitation_id}/accept")
def accept_invitation(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    invitation_id: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(browser: BrowserSession, user: User) -> Response:
        try:
            Acceptance(runtime, session, _address(request)).join_addressed(
                uuid.UUID(invitation_id), user
            )
        except (ValueError, OstiaryError):
            session.rollback()
            errors = {"invitations": INVITATION_GONE}
            return _page(request, runtime, session, browser, user, status=404, errors=errors)
        return back(f"{HOME}?done=joined")

    return account_page(request, runtime, session, HOME, work, csrf=csrf)


@router.post("/account/organizations/join-requests")
def ask_to_join(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    organization: Annotated[str, Form()] = "",
) -> Response:
    def work(browser: BrowserSession, user: User) -> Response:
        if not organization.strip():
            errors = {"organization": ASK_EMPTY}
            return _page(request, runtime, session, browser, user, status=422, errors=errors)
        try:
            RegistrationService(session, runtime, _address(request)).ask_to_join(user, organization)
        except (NotFound, AlreadyExists, RuleViolation) as exc:
            session.rollback()
            message = next(m for kind, m in ASK_REFUSALS.items() if isinstance(exc, kind))
            return _page(
                request,
                runtime,
                session,
                browser,
                user,
                status=exc.status,
                errors={"organization": message},
                typed=organization,
            )
        return back(f"{HOME}?done=asked")

    return account_page(request, runtime, session, HOME, work, csrf=csrf)


@router.post("/account/organizations/join-requests/{request_id}/withdraw")
def withdraw_request(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    request_id: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(browser: BrowserSession, user: User) -> Response:
        try:
            RegistrationService(session, runtime, _address(request)).withdraw(
                user, uuid.UUID(request_id)
            )
        except (ValueError, OstiaryError) as exc:
            session.rollback()
            status = exc.status if isinstance(exc, OstiaryError) else 404
            errors = {"requests": REQUEST_GONE}
            return _page(request, runtime, session, browser, user, status=status, errors=errors)
        return back(f"{HOME}?done=withdrawn")

    return account_page(request, runtime, session, HOME, work, csrf=csrf)
