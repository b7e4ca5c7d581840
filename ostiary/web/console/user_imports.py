"""``/console/users/import``: import users from a CSV file with the right that ``POST
/api/v1/users/import`` asks (``users.manage``), through the same service. A file with bad
rows is refused whole, each problem listed with its line; a good file runs as an import job
(in the background when it is large, as the API does) whose page shows its progress, polled
by htmx, until the final report."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from ostiary.access.catalogue import Right
from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.api.v1.user_imports import MAX_BYTES
from ostiary.errors import NotFound
from ostiary.imports.background import run_in_background, service_for
from ostiary.imports.models import ImportStatus
from ostiary.imports.problems import MAX_LISTED, InvalidFile, RowProblem
from ostiary.imports.services import ImportOptions
from ostiary.text import Text
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
NO_FILE = "Choose a CSV file."
TOO_LARGE = "The file is too big (at most 64 MiB)."


def _form(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    problems: list[object] | None = None,
    more: int = 0,
) -> Response:
    return render(
        request,
        runtime,
        console,
        "users_import.html",
        status=status,
        active="import",
        errors=errors or {},
        problems=problems or [],
        more=more,
    )


@router.get("/console/users/import")
def import_form(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    def work(console: ConsoleSession) -> Response:
        console.scope(Right.USERS_MANAGE)
        return _form(request, runtime, console)

    return console_page(request, runtime, session, work)


@router.post("/console/users/import")
def import_file(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    body = file.file.read(MAX_BYTES + 1) if file is not None else b""

    def work(console: ConsoleSession) -> Response:
        scope = console.scope(Right.USERS_MANAGE)
        if not body:
            return _form(request, runtime, console, status=422, errors={"file": NO_FILE})
        if len(body) > MAX_BYTES:
            return _form(request, runtime, console, status=413, errors={"file": TOO_LARGE})
        options = ImportOptions()
        service = service_for(runtime, session, console.user, scope)
        try:
            validated = service.validate(body, options)
        except InvalidFile as exc:
            session.rollback()
            return _form(
                request,
                runtime,
                console,
                status=422,
                errors={"file": exc.detail},
                problems=list(exc.problems[:MAX_LISTED]),
                more=max(0, len(exc.problems) - MAX_LISTED),
            )
        if len(validated.rows) <= runtime.settings.import_sync_rows:
            report = service.run(validated, options)
            job_id = report.job_id
        else:
            job = service.start(validated, options)
            run_in_background(runtime, console.user.id, scope, job, body, options)
            job_id = job.id
        return redirect(f"/console/users/imports/{job_id}")

    return console_page(request, runtime, session, work, csrf=csrf)


def _job_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, import_id: str, template: str
) -> Response:
    def work(console: ConsoleSession) -> Response:
        scope = console.scope(Right.USERS_MANAGE)
        try:
            parsed = uuid.UUID(import_id)
        except ValueError:
            raise NotFound(
                Text("no user import with id '{import_id}'", import_id=import_id), field="id"
            ) from None
        job = service_for(runtime, session, console.user, scope).job(parsed)
        percent = 100 if not job.rows_total else job.rows_done * 100 // job.rows_total
        return render(
            request,
            runtime,
            console,
            template,
            active="import",
            job=job,
            problems=[RowProblem.from_stored(p) for p in job.problems],
            running=job.status == ImportStatus.RUNNING,
            percent=percent,
        )

    return console_page(request, runtime, session, work)


@router.get("/console/users/imports/{import_id}")
def import_job(
    request: Request, runtime: RuntimeDep, session: SessionDep, import_id: str
) -> Response:
    return _job_page(request, runtime, session, import_id, "users_import_job.html")


@router.get("/console/users/imports/{import_id}/progress")
def import_progress(
    request: Request, runtime: RuntimeDep, session: SessionDep, import_id: str
) -> Response:
    """The progress alone, for htmx to swap in while the job runs."""
    return _job_page(request, runtime, session, import_id, "users_import_progress.html")
