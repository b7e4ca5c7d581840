"""``/console/messages``: the texts of the messages Ostiary sends, per purpose, language and
channel (``messages.manage``), through the services of ``/api/v1/message-templates``.

At the root the console changes the instance's templates (root only, as at the API); in
another context, that context's own templates, which serve its subtree. A preview renders the
draft with the purpose's sample values by the renderer that sends (htmx while typing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from ostiary.access.catalogue import Right
from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.contexts.models import Context
from ostiary.errors import InvalidInput, NotFound
from ostiary.messages.defaults import shipped_languages
from ostiary.messages.purposes import PURPOSES
from ostiary.messages.rendering import Rendered, Source
from ostiary.messages.schemas import TemplateParts
from ostiary.messages.templates import (
    MessageTemplates,
    Resolved,
    TemplateKey,
    get_purpose,
)
from ostiary.text import Text
from ostiary.web.console.field_errors import of_error, of_validation
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
PARTS = ("subject", "text", "html")
NOTICES = {
    "saved": "The template is saved; messages use it from now on.",
    "reset": "The customised template is removed; the next level applies again.",
}


class TemplateFields(BaseModel):
    csrf: str = ""
    subject: str = ""
    text: str = ""
    html: str = ""


def _service(console: ConsoleSession, runtime: RuntimeDep) -> MessageTemplates:
    return MessageTemplates(
        console.caller.session,
        console.caller.actor,
        default_language=runtime.settings.default_language,
    )


def _level(console: ConsoleSession, *, change: bool) -> Context | None:
    """The level the console works at: the instance from the root, else the current context
    (as ``?context=`` at the API)."""
    scope = console.scope(Right.MESSAGES_MANAGE)
    if console.context.parent_id is None:
        if change:
            scope.require_root("changing the instance's message templates")
        return None
    scope.require(console.context)
    return console.context


def _draft(form: TemplateFields, key: TemplateKey) -> tuple[Source | None, dict[str, str]]:
    """The draft as a template's parts, or what is wrong with its form."""
    email = key.channel == "email"
    try:
        parts = TemplateParts(
            subject=form.subject if email else None,
            text=form.text,
            html=(form.html or None) if email else None,
        )
    except ValidationError as exc:
        return None, of_validation(exc)
    return parts.source(), {}


@router.get("/console/messages")
def list_templates(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    purpose: str = "",
    language: str = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        level = _level(console, change=False)
        service = _service(console, runtime)
        chosen = PURPOSES.get(purpose)
        languages = sorted(shipped_languages())
        tag = language if language in languages else None
        rows = service.list(None, purpose=chosen, language=tag)
        own: set[tuple[str, str, str]] = set()
        if level is not None:
            for r in service.list(level, purpose=chosen, language=tag):
                own.add((r.key.purpose.key, r.key.language, r.key.channel.value))
        return render(
            request,
            runtime,
            console,
            "messages.html",
            active="messages",
            rows=rows,
            own=own,
            level=level,
            purposes=list(PURPOSES.values()),
            languages=languages,
            filters={"purpose": purpose if chosen else "", "language": tag or ""},
        )

    return console_page(request, runtime, session, work)


def _current(service: MessageTemplates, key: TemplateKey, level: Context | None) -> Resolved:
    """This level's template, or the one a message here would use when it has none."""
    try:
        return service.at_level(key, level)
    except NotFound:
        return service.resolve(key.purpose, key.channel, key.language, level.id if level else None)


def _editor(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    key: TemplateKey,
    *,
    status: int = 200,
    typed: TemplateFields | None = None,
    errors: dict[str, str] | None = None,
    rendered: Rendered | None = None,
    notice: str = "",
) -> Response:
    level = _level(console, change=False)
    service = _service(console, runtime)
    current = _current(service, key, level)
    here = "context" if level is not None else "instance"
    fields = typed or TemplateFields(
        subject=current.source.subject or "",
        text=current.source.text,
        html=current.source.html or "",
    )
    if rendered is None and not errors:
        rendered = _preview(service, key, level, fields)[0]
    return render(
        request,
        runtime,
        console,
        "message.html",
        status=status,
        active="messages",
        key=key,
        level=level,
        origin=current.origin,
        customised_here=current.origin == here
        and current.key.language == key.language
        and current.context_id == (level.id if level else None),
        may_change=level is not None or console.scope(Right.MESSAGES_MANAGE).unrestricted,
        typed=fields,
        errors=errors or {},
        rendered=rendered,
        notice=NOTICES.get(notice),
    )


def _preview(
    service: MessageTemplates, key: TemplateKey, level: Context | None, form: TemplateFields
) -> tuple[Rendered | None, dict[str, str]]:
    """The draft rendered with the purpose's sample values, or its problems by field."""
    source, errors = _draft(form, key)
    if source is None:
        return None, errors
    try:
        return service.preview(key, level, source, {})[1], {}
    except InvalidInput as exc:
        return None, of_error(exc)


def _key(purpose: str, language: str, channel: str) -> TemplateKey:
    key = TemplateKey.of(purpose, language, channel)
    if key.channel not in get_purpose(purpose).channels:
        raise NotFound(
            Text("'{purpose}' is not sent by {channel}", purpose=purpose, channel=channel)
        )
    return key


@router.get("/console/messages/{purpose}/{language}/{channel}")
def edit_template(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    purpose: str,
    language: str,
    channel: str,
    done: str = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        key = _key(purpose, language, channel)
        return _editor(request, runtime, console, key, notice=done)

    return console_page(request, runtime, session, work)


@router.post("/console/messages/{purpose}/{language}/{channel}/preview")
def preview_template(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    purpose: str,
    language: str,
    channel: str,
    form: Annotated[TemplateFields, Form()],
) -> Response:
    """Nothing is saved: the draft rendered, as a part of the page for htmx, else the page."""

    def work(console: ConsoleSession) -> Response:
        key = _key(purpose, language, channel)
        level = _level(console, change=False)
        rendered, errors = _preview(_service(console, runtime), key, level, form)
        status = 422 if errors else 200
        if request.headers.get("hx-request"):
            return render(
                request,
                runtime,
                console,
                "message_preview.html",
                status=200,
                key=key,
                rendered=rendered,
                errors=errors,
                parts=PARTS,
                oob=True,
            )
        return _editor(
            request,
            runtime,
            console,
            key,
            status=status,
            typed=form,
            errors=errors,
            rendered=rendered,
        )

    return console_page(request, runtime, session, work, csrf=form.csrf)


@router.post("/console/messages/{purpose}/{language}/{channel}")
def save_template(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    purpose: str,
    language: str,
    channel: str,
    form: Annotated[TemplateFields, Form()],
) -> Response:
    def work(console: ConsoleSession) -> Response:
        key = _key(purpose, language, channel)
        level = _level(console, change=True)
        source, errors = _draft(form, key)
        if source is not None:
            try:
                _service(console, runtime).put(key, level, source)
            except InvalidInput as exc:
                session.rollback()
                errors = of_error(exc)
        if errors:
            return _editor(request, runtime, console, key, status=422, typed=form, errors=errors)
        return redirect(f"/console/messages/{purpose}/{key.language}/{channel}?done=saved")

    return console_page(request, runtime, session, work, csrf=form.csrf)


@router.post("/console/messages/{purpose}/{language}/{channel}/reset")
def reset_template(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    purpose: str,
    language: str,
    channel: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        key = _key(purpose, language, channel)
        _service(console, runtime).delete(key, _level(console, change=True))
        return redirect(f"/console/messages/{purpose}/{key.language}/{channel}?done=reset")

    return console_page(request, runtime, session, work, csrf=csrf)
