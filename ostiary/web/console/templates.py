"""``/console/templates``: ACL templates, read by anyone in the console (as
``GET /api/v1/acl-templates``), changed by holders of ``templates.manage`` at the root; their
rights as a form of every module's rights, and CSV export and import, through the services of
``/api/v1/acl-templates`` (``compose`` checks the values, ``import_csv`` every row first)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from ostiary.access.catalogue import Right
from ostiary.access.models import AclTemplate
from ostiary.access.rightsets import compose
from ostiary.access.schemas import TemplateCreate, TemplateUpdate
from ostiary.access.template_csv import COLUMNS, ImportResult, export_csv, import_csv
from ostiary.access.templates import TemplateService
from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.contexts.models import ContextType
from ostiary.errors import InvalidInput, OstiaryError
from ostiary.text import Text
from ostiary.web.console.forms import confirm, field_error, form_data, invalid
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.rights import RightsForm
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
TYPES = [str(t) for t in ContextType]
MAX_UPLOAD = 1_000_000
INVALID = {
    "key": "Lower-case letters, digits, dots, dashes and underscores, at most 100, starting "
    "with a letter or digit.",
    "name": "Enter a name of at most 200 characters.",
    "context_types": "Choose known context types.",
}
FormDep = Annotated[FormData, Depends(form_data)]


def _service(console: ConsoleSession) -> TemplateService:
    return TemplateService(console.caller.session, console.caller.actor)


def may_manage(console: ConsoleSession) -> bool:
    return (
        console.may(Right.TEMPLATES_MANAGE) and console.scope(Right.TEMPLATES_MANAGE).unrestricted
    )


def _require_manage(console: ConsoleSession) -> None:
    console.scope(Right.TEMPLATES_MANAGE).require_root(
        "changing templates, which apply everywhere,"
    )


def _list(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, object] | None = None,
    problems: list[str] | None = None,
    imported: ImportResult | None = None,
) -> Response:
    console.scope(Right.ACCESS)
    return render(
        request,
        runtime,
        console,
        "templates.html",
        status=status,
        active="templates",
        templates=_service(console).list(),
        may_manage=may_manage(console),
        types=TYPES,
        columns=COLUMNS,
        errors=errors or {},
        typed={"key": "", "name": "", "context_types": []} | (typed or {}),
        problems=problems or [],
        imported=imported,
    )


@router.get("/console/templates")
def list_templates(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return console_page(request, runtime, session, lambda c: _list(request, runtime, c))


@router.post("/console/templates")
def create_template(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    context_types: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """A new template without rights; its page sets them."""
    typed = {"key": key, "name": name, "context_types": context_types or []}

    def work(console: ConsoleSession) -> Response:
        _require_manage(console)
        try:
            data = TemplateCreate(
                key=key.strip(),
                name=name.strip(),
                context_types=context_types or [],  # type: ignore[arg-type]
            )
        except ValidationError as exc:
            errors = invalid(exc, INVALID)
            return _list(request, runtime, console, status=422, errors=errors, typed=typed)
        try:
            _service(console).create(
                data.key,
                name=data.name,
                context_types=[str(t) for t in data.context_types],
                rights={},
            )
        except OstiaryError as exc:
            errors = field_error(console, exc)
            return _list(request, runtime, console, status=exc.status, errors=errors, typed=typed)
        return redirect(f"/console/templates/{data.key}")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.get("/console/templates/export")
def export_templates(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    """Every template as CSV, the file that ``import`` takes back."""

    def work(console: ConsoleSession) -> Response:
        console.scope(Right.ACCESS)
        return Response(
            export_csv(_service(console).list()),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="acl-templates.csv"'},
        )

    return console_page(request, runtime, session, work)


@router.post("/console/templates/import")
def import_templates(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Creates or replaces the templates the file names; a bad row, and nothing is written."""
    content = file.file.read(MAX_UPLOAD + 1) if file is not None else b""

    def work(console: ConsoleSession) -> Response:
        _require_manage(console)
        if not content.strip():
            errors = {"file": "Choose a CSV file."}
            return _list(request, runtime, console, status=422, errors=errors)
        if len(content) > MAX_UPLOAD:
            errors = {"file": "The file is too big (at most 1 MB)."}
            return _list(request, runtime, console, status=422, errors=errors)
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            errors = {"file": "The file is not UTF-8 text."}
            return _list(request, runtime, console, status=422, errors=errors)
        try:
            imported = import_csv(session, _service(console), text)
        except InvalidInput as exc:
            session.rollback()
            problems = [
                Text("{place}: {message}", place=p.field, message=p.message)
                if p.field
                else p.message
                for p in exc.problems
            ]
            return _list(request, runtime, console, status=422, problems=problems)
        return _list(request, runtime, console, imported=imported)

    return console_page(request, runtime, session, work, csrf=csrf)


def _detail(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    template: AclTemplate,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, object] | None = None,
    values: dict[str, str] | None = None,
    notice: str = "",
) -> Response:
    rights = RightsForm.load(console.caller.session)
    stored = rights.shown(_service(console).values(template))
    return render(
        request,
        runtime,
        console,
        "template.html",
        status=status,
        active="templates",
        acl_template=template,
        rights=rights,
        values=stored if values is None else values,
        may_manage=may_manage(console),
        types=TYPES,
        errors=errors or {},
        typed={"name": template.name, "context_types": list(template.context_types)}
        | (typed or {}),
        notice=notice,
    )


@router.get("/console/templates/{key}")
def show_template(
    request: Request, runtime: RuntimeDep, session: SessionDep, key: str, done: str = ""
) -> Response:
    def work(console: ConsoleSession) -> Response:
        console.scope(Right.ACCESS)
        return _detail(request, runtime, console, _service(console).get(key), notice=done)

    return console_page(request, runtime, session, work)


@router.post("/console/templates/{key}")
def update_template(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    key: str,
    form: FormDep,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    context_types: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Name, context types and rights at once, as ``PATCH /api/v1/acl-templates/{key}``."""
    typed = {"name": name, "context_types": context_types or []}

    def work(console: ConsoleSession) -> Response:
        _require_manage(console)
        service = _service(console)
        template = service.get(key)
        rights = RightsForm.load(session)

        def again(status: int, errors: dict[str, str]) -> Response:
            return _detail(
                request,
                runtime,
                console,
                template,
                status=status,
                errors=errors,
                typed=typed,
                values=rights.typed(form),
            )

        errors: dict[str, str] = {}
        try:
            data = TemplateUpdate(
                name=name.strip(),
                context_types=context_types or [],  # type: ignore[arg-type]
                rights=rights.named(form, service.values(template)),  # type: ignore[arg-type]
            )
        except ValidationError as exc:
            return again(422, invalid(exc, INVALID))
        try:
            values = compose(session, template_key=None, rights=data.rights, context_type=None)
        except InvalidInput as exc:
            errors = rights.errors(exc)
            return again(422, errors)
        service.put(
            key,
            name=data.name or template.name,
            context_types=[str(t) for t in data.context_types or []],
            rights=values,
        )
        return redirect(f"/console/templates/{key}?done=saved")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.get("/console/templates/{key}/delete")
def confirm_delete(
    request: Request, runtime: RuntimeDep, session: SessionDep, key: str
) -> Response:
    def work(console: ConsoleSession) -> Response:
        _require_manage(console)
        template = _service(console).get(key)
        return confirm(
            request,
            runtime,
            console,
            active="templates",
            title="Delete a template",
            what=f"{template.name} ({template.key})",
            consequence="Groups and policies made from it keep the values they copied.",
            action=f"/console/templates/{template.key}/delete",
            back=f"/console/templates/{template.key}",
        )

    return console_page(request, runtime, session, work)


@router.post("/console/templates/{key}/delete")
def delete_template(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    key: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        _require_manage(console)
        service = _service(console)
        service.delete(service.get(key))
        return redirect("/console/templates")

    return console_page(request, runtime, session, work, csrf=csrf)
