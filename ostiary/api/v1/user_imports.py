"""``/api/v1/users/import`` and ``/api/v1/users/imports/{id}``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.imports.background import run_in_background, service_for
from ostiary.imports.problems import FileTooLarge, NotCsv
from ostiary.imports.schemas import ImportJobOut, ImportReportOut
from ostiary.imports.services import ImportOptions, UserImportService

router = APIRouter(prefix="/users", tags=["user imports"])
ManageScope = Annotated[AdminScope, Depends(scope_for(Right.USERS_MANAGE))]
MAX_BYTES = 64 * 1024 * 1024


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
    service = service_for(runtime, session, caller.user, scope)
    validated = service.validate(body, options)
    if dry_run or len(validated.rows) <= runtime.settings.import_sync_rows:
        report = service.run(validated, options)
        return Response(ImportReportOut.of(report).model_dump_json(), media_type="application/json")
    job = service.start(validated, options)
    run_in_background(runtime, caller.identity.id, scope, job, body, options)
    return Response(
        ImportJobOut.of(job).model_dump_json(),
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
        headers={"Location": f"/api/v1/users/imports/{job.id}"},
    )


@router.get("/imports/{import_id}", response_model=ImportJobOut, summary="Progress of an import")
def read_import(
    import_id: uuid.UUID, session: SessionDep, scope: ManageScope, caller: CallerDep
) -> ImportJobOut:
    return ImportJobOut.of(UserImportService(session, caller.actor, scope=scope).job(import_id))
