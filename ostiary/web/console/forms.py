"""What the console's forms share: errors of a form by their field, a confirmation page before a
deletion, and every form field of a request for forms whose fields the catalogue decides."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from ostiary.errors import OstiaryError
from ostiary.runtime import Runtime
from ostiary.web.console.pages import render
from ostiary.web.console.session import ConsoleSession

CHECK = "Check this field."


async def form_data(request: Request) -> FormData:
    """The request's form (read once; ``Form()`` parameters of the route read the same)."""
    return await request.form()


def invalid(exc: ValidationError, messages: Mapping[str, str]) -> dict[str, str]:
    """Pydantic's errors by field, in the page's words."""
    found: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        found.setdefault(name, messages.get(name, CHECK))
    return found


def field_error(
    console: ConsoleSession, exc: OstiaryError, *, shown_at: str | None = None
) -> dict[str, str]:
    """A refusal of the service that names its field, undone, to show next to that field (or
    ``shown_at``, where the form calls it otherwise); any other refusal goes on up. The message
    keeps its values: the page's ``_()`` shows it in the page's language."""
    if exc.field is None or exc.refusal is not None:
        raise exc
    console.caller.session.rollback()
    return {shown_at or exc.field: exc.text}


def confirm(
    request: Request,
    runtime: Runtime,
    console: ConsoleSession,
    *,
    active: str,
    title: str,
    what: str,
    consequence: str,
    action: str,
    back: str,
    fields: Mapping[str, str] | None = None,
) -> Response:
    """A page that says what deleting means, with the button that does it."""
    return render(
        request,
        runtime,
        console,
        "confirm.html",
        active=active,
        title=title,
        what=what,
        consequence=consequence,
        action=action,
        back=back,
        fields=dict(fields or {}),
    )
