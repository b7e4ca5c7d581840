"""``/console/invitations``: invite one person or many (addresses pasted, or a CSV file) into
the current context, through the same batch as ``/api/v1/invitations/batch``; the page shows
the result of each entry."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from ostiary.access.catalogue import Right
from ostiary.access.groups import GroupService
from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.invitations.schemas import EntryResult
from ostiary.invitations.services import InvitationService, inviter_for
from ostiary.web.console.pages import console_page, render
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
MAX_UPLOAD = 1_000_000


def addresses(pasted: str, upload: bytes) -> list[str]:
    """Addresses one per line (or separated by commas or semicolons), and from a CSV file the
    column ``email`` if it has a header naming one, else its first column."""
    found = [a.strip() for line in pasted.splitlines() for a in line.replace(";", ",").split(",")]
    if upload:
        text = upload.decode("utf-8-sig", errors="replace")
        rows = list(csv.reader(io.StringIO(text)))
        header = [h.strip().lower() for h in rows[0]] if rows else []
        column = header.index("email") if "email" in header else 0
        body = rows[1:] if "email" in header else rows
        found += [row[column].strip() for row in body if len(row) > column]
    return [a for a in found if a]


def _form(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, object] | None = None,
    results: list[tuple[str, EntryResult]] | None = None,
) -> Response:
    groups = GroupService(console.caller.session, console.caller.actor).list(console.context)
    return render(
        request,
        runtime,
        console,
        "invitations.html",
        status=status,
        active="invite",
        groups=groups,
        errors=errors or {},
        typed={"emails": "", "message": "", "groups": [], **(typed or {})},
        results=results,
    )


@router.get("/console/invitations")
def invitation_form(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    def work(console: ConsoleSession) -> Response:
        console.scope(Right.INVITATIONS_MANAGE).require(console.context)
        return _form(request, runtime, console)

    return console_page(request, runtime, session, work)


@router.post("/console/invitations")
def invite(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    emails: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
    groups: Annotated[list[str] | None, Form()] = None,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    content = file.file.read(MAX_UPLOAD + 1) if file is not None else b""
    chosen = groups or []

    def work(console: ConsoleSession) -> Response:
        scope = console.scope(Right.INVITATIONS_MANAGE)
        scope.require(console.context)
        typed = {"emails": emails, "message": message, "groups": chosen}
        if len(content) > MAX_UPLOAD:
            errors = {"file": "The file is too big (at most 1 MB)."}
            return _form(request, runtime, console, status=422, errors=errors, typed=typed)
        found = addresses(emails, content)
        if not found:
            errors = {"emails": "Enter at least one e-mail address, or choose a CSV file."}
            return _form(request, runtime, console, status=422, errors=errors, typed=typed)
        entries = [
            {
                "context_id": str(console.context.id),
                "email": address,
                "groups": chosen,
                **({"message": message.strip()} if message.strip() else {}),
            }
            for address in found
        ]
        inviter = inviter_for(session, runtime, console.user, console.caller.actor, scope)
        results = InvitationService(session, runtime).batch(entries, inviter)
        failed = any(r.outcome == "failed" for r in results)
        return _form(
            request,
            runtime,
            console,
            status=422 if failed and len(results) == 1 else 200,
            typed=typed if failed else None,
            results=list(zip(found, results, strict=True)),
        )

    return console_page(request, runtime, session, work, csrf=csrf)
