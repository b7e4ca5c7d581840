"""``/api/v1/users/import`` and ``/api/v1/users/imports/{id}``."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.access.guard import GrantGuard
from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.imports.problems import FileTooLarge, InvalidFile, NotCsv
from ostiary.imports.schemas import ImportJobOut, ImportReportOut
from ostiary.imports.services import ImportOptions, UserImportService
from ostiary.runtime import Runtime
from ostiary.users.models import User

router = APIRouter(prefix="/users", tags=["user imports"])
ManageScope = Annotated[AdminScope, Depends(scope_for(Right.USERS_MANAGE))]
MAX_BYTES = 64 * 1024 * 1024
logger = logging.getLogger("ostiary.imports")


async def _csv_body(request: Request) -> bytes:
    """The CSV file of the request, refused early when it is not CSV or too large."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "text/csv":
        raise NotCsv("send the file as text/csv")
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > MAX_BYTES:
            raise FileTooLarge(f"an import file may have at most {MAX_BYTES // 2**20} MiB")
    return bytes(data)


CsvBody = Annotated[bytes, Depends(_csv_body)]


def _service(
    runtime: Runtime, session: SessionDep, actor_user: User, scope: AdminScope
) -> UserImportService:
    guard = None if scope.unrestricted else GrantGuard(session, runtime.rights, actor_user, scope)
    return UserImportService(session, scope.actor, scope=scope, guard=guard)


@router.post(
    "/import",
    response_model=ImportReportOut,
    summary="Import users from a CSV file",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={
        202: {"model": ImportJobOut, "description": "A large file: the import runs as a job"},
        413: {"description": "The file is larger than 64 MiB"},
        415: {"description": "The body is not text/csv"},
        422: {"description": "Bad rows, each with its line and column; nothing was written"},
    },
)
def import_users(
    session: SessionDep,
    runtime: RuntimeDep,
    caller: CallerDep,
    scope: ManageScope,
    body: CsvBody,  # after signing in: a caller without credentials learns nothing else
    dry_run: bool = False,
    skip_invalid: bool = False,
) -> Response:
    options = ImportOptions(dry_run=dry_run, skip_invalid=skip_invalid)
    service = _service(runtime, session, caller.user, scope)
    validated = service.validate(body, options)
    if dry_run or len(validated.rows) <= runtime.settings.import_sync_rows:
        report = service.run(validated, options)
        return Response(ImportReportOut.of(report).model_dump_json(), media_type="application/json")
    job = service.start(validated, options)
    threading.Thread(
        target=_run_job,
        args=(runtime, caller.identity.id, scope, job.id, body, options),
        name=f"user-import-{job.id}",
        daemon=True,
    ).start()
    return Response(
        ImportJobOut.of(job).model_dump_json(),
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
        headers={"Location": f"/api/v1/users/imports/{job.id}"},
    )


def _run_job(
    runtime: Runtime,
    caller_id: uuid.UUID,
    scope: AdminScope,
    job_id: uuid.UUID,
    body: bytes,
    options: ImportOptions,
) -> None:
    """A large import, in a session of its own; validated again, against the database as it is
    by then. A job that a restart cut short continues when the same file is sent again."""
    try:
        with runtime.sessions() as session:
            user = session.get(User, caller_id)
            assert user is not None
            service = _service(runtime, session, user, scope)
            job = service.job(job_id)
            try:
                validated = service.validate(body, options)
            except InvalidFile as exc:
                service.fail(job, exc.problems)
                return
            service.resume(job, validated, options)
    except Exception:
        logger.exception("the user import %s stopped", job_id)


@router.get("/imports/{import_id}", response_model=ImportJobOut, summary="Progress of an import")
def read_import(
    import_id: uuid.UUID, session: SessionDep, scope: ManageScope, caller: CallerDep
) -> ImportJobOut:
    return ImportJobOut.of(UserImportService(session, caller.actor, scope=scope).job(import_id))
