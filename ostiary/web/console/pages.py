"""Rendering console pages, and answering refusals the way the API does (same status, same
audited refusal), as a page."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from ostiary.access.catalogue import Right
from ostiary.access.decisions import switchable_contexts
from ostiary.api.v1.deps import keep_refusal
from ostiary.db.session import OstiarySession
from ostiary.errors import Forbidden, OstiaryError
from ostiary.protocols.oidc.routes import NO_STORE
from ostiary.runtime import Runtime
from ostiary.web.console.session import ConsoleSession, resolve
from ostiary.web.templating import templates

# The navigation: groups of sections, each section shown only to callers whose scope for its
# right reaches somewhere, each group only when it shows a section.
GROUPS = (
    (
        "People",
        (
            ("users", "/console/users", "Users", Right.USERS_READ),
            ("import", "/console/users/import", "Import users", Right.USERS_MANAGE),
            ("invite", "/console/invitations", "Invite", Right.INVITATIONS_MANAGE),
            ("join", "/console/join-requests", "Join requests", Right.REGISTRATIONS_MANAGE),
        ),
    ),
    (
        "Organizations",
        (
            ("contexts", "/console/contexts", "Contexts", Right.CONTEXTS_READ),
            (
                "registrations",
                "/console/registrations",
                "Registrations",
                Right.REGISTRATIONS_MANAGE,
            ),
            ("contracts", "/console/contracts", "Contracts", Right.CONTEXTS_READ),
            ("audit", "/console/audit", "Audit log", Right.AUDIT_READ),
        ),
    ),
    (
        "Access rights",
        (
            ("modules", "/console/modules", "Modules", Right.MODULES_MANAGE),
            ("templates", "/console/templates", "ACL templates", Right.TEMPLATES_MANAGE),
        ),
    ),
    (
        "Applications",
        (
            ("clients", "/console/clients", "Clients", Right.CLIENTS_MANAGE),
            ("webhooks", "/console/webhooks", "Webhooks", Right.WEBHOOKS_MANAGE),
            ("messages", "/console/messages", "Messages", Right.MESSAGES_MANAGE),
            ("branding", "/console/branding", "Branding", Right.BRANDING_MANAGE),
            ("keys", "/console/keys", "Signing keys", Right.CLIENTS_MANAGE),
        ),
    ),
)
SECTIONS = tuple(section for _, sections in GROUPS for section in sections)


def redirect(target: str) -> Response:
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


def render(
    request: Request,
    runtime: Runtime,
    console: ConsoleSession,
    template: str,
    *,
    status: int = 200,
    **context: object,
) -> Response:
    session = console.caller.session
    contexts = [
        s.context
        for s in switchable_contexts(
            session, runtime.rights, console.user, console.browser.external_roles
        )
    ]
    shown = [s for s in SECTIONS if console.may(s[3])]
    values = {
        "console": console,
        "csrf": console.csrf,
        "sections": shown,
        "section_groups": [
            (label, [s for s in sections if s in shown])
            for label, sections in GROUPS
            if any(s in shown for s in sections)
        ],
        "switchable": contexts,
        **context,
    }
    return templates.TemplateResponse(
        request, f"console/{template}", values, status_code=status, headers=NO_STORE
    )


def refused(
    request: Request, runtime: Runtime, console: ConsoleSession, exc: OstiaryError
) -> Response:
    """A refused action: undone, the refusal audited like the API's, a page with its status."""
    session = console.caller.session
    if exc.refusal is not None:
        keep_refusal(session, exc.refusal)
    else:
        session.rollback()
    return render(request, runtime, console, "problem.html", status=exc.status, problem=exc)


def console_page(
    request: Request,
    runtime: Runtime,
    session: OstiarySession,
    work: Callable[[ConsoleSession], Response],
    *,
    csrf: str | None = None,
) -> Response:
    """Run a page for a signed-in console user: without a console session, sign in first; a
    form whose token does not match is refused (403) and changes nothing."""
    console = resolve(request, runtime, session)
    if console is None:
        if request.method != "GET":
            return redirect("/console")
        return redirect("/console/login")
    if csrf is not None and not console.csrf_ok(csrf):
        forged = Forbidden("the form's token does not match this session")
        return render(request, runtime, console, "problem.html", status=403, problem=forged)
    try:
        return work(console)
    except OstiaryError as exc:
        return refused(request, runtime, console, exc)
