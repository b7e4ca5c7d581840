from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from ostiary.imports.models import ImportStatus, UserImport
from ostiary.imports.problems import MAX_LISTED, RowProblem
from ostiary.imports.services import ImportReport


class ImportProblemOut(BaseModel):
    line: int
    field: str = Field(description="The column, or empty for the row as a whole.")
    message: str

    @classmethod
    def of(cls, problem: RowProblem) -> ImportProblemOut:
        return cls(line=problem.line, field=problem.column, message=problem.message)


class ImportReportOut(BaseModel):
    job_id: uuid.UUID | None = Field(description="None for a dry run.")
    dry_run: bool
    finished: bool
    rows: int
    rows_done: int
    created: int
    updated: int
    unchanged: int
    invalid: int
    seconds: float
    problems: list[ImportProblemOut] = Field(description="Rows skipped as invalid.")

    @classmethod
    def of(cls, report: ImportReport) -> ImportReportOut:
        return cls(
            job_id=report.job_id,
            dry_run=report.dry_run,
            finished=report.finished,
            rows=report.rows,
            rows_done=report.rows_done,
            created=report.counts.created,
            updated=report.counts.updated,
            unchanged=report.counts.unchanged,
            invalid=report.invalid,
            seconds=round(report.seconds, 3),
            problems=[ImportProblemOut.of(p) for p in report.problems[:MAX_LISTED]],
        )


class ImportJobOut(BaseModel):
    id: uuid.UUID
    status: ImportStatus
    file_sha256: str
    rows: int
    rows_done: int
    created: int
    updated: int
    unchanged: int
    invalid: int
    problems: list[ImportProblemOut] = Field(
        description="Rows skipped as invalid, or what made the import fail."
    )
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: UserImport) -> ImportJobOut:
        return cls(
            id=job.id,
            status=ImportStatus(job.status),
            file_sha256=job.file_sha256,
            rows=job.rows_total,
            rows_done=job.rows_done,
            created=job.created,
            updated=job.updated,
            unchanged=job.unchanged,
            invalid=job.invalid,
            problems=[ImportProblemOut(**p) for p in job.problems],
            started_at=job.created_at,
            finished_at=job.finished_at,
        )
