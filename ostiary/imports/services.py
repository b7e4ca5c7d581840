"""Importing users from a CSV file: validated whole first, then written chunk by chunk.

Each chunk is one transaction that also moves the job's checkpoint, so an interrupted run of
the same file (known by its SHA-256) continues after the last chunk it committed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from ostiary.access.admin import AdminScope
from ostiary.access.guard import GrantGuard
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.errors import NotFound
from ostiary.imports.csvfile import read_csv
from ostiary.imports.models import ImportStatus, UserImport
from ostiary.imports.planning import ChunkPlan, Outcome, Planner, RowPlan
from ostiary.imports.problems import MAX_LISTED, InvalidFile, RowProblem
from ostiary.imports.references import References
from ostiary.imports.rows import ImportRow, parse_rows
from ostiary.imports.writing import write_chunk
from ostiary.text import Text
from ostiary.webhooks.events import collect_written

CHUNK_ROWS = 1000
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportOptions:
    dry_run: bool = False
    skip_invalid: bool = False
    chunk_rows: int = CHUNK_ROWS
    # Stop after this many chunks as if interrupted (the checkpoint stays where it is).
    stop_after_chunks: int | None = None


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, plans: list[RowPlan]) -> None:
        for plan in plans:
            outcome = plan.outcome
            if outcome is Outcome.CREATED:
                self.created += 1
            elif outcome is Outcome.UPDATED:
                self.updated += 1
            else:
                self.unchanged += 1


@dataclass(frozen=True)
class PlannedChunk:
    """The rows of ``start:end`` that parsed, planned by validation."""

    start: int
    end: int
    rows: list[ImportRow]
    planned: ChunkPlan

    def plans(self) -> list[RowPlan]:
        return [plan for plan in self.planned.plans if isinstance(plan, RowPlan)]


@dataclass(frozen=True)
class Validated:
    """A file whose rows all passed (or, when skipping, whose bad rows are known)."""

    file_sha256: str
    # Each data row of the file in order; None where the row is invalid.
    rows: list[ImportRow | None]
    problems: list[RowProblem]
    references: References
    # What a run would do now, as validation found it.
    expected: Counts
    # Validation's plans, by the first row of their chunk.
    chunks: dict[int, PlannedChunk]

    @property
    def invalid(self) -> int:
        return sum(1 for row in self.rows if row is None)


@dataclass
class ImportReport:
    job_id: uuid.UUID | None
    rows: int
    rows_done: int
    counts: Counts
    invalid: int
    problems: list[RowProblem]
    seconds: float
    dry_run: bool
    finished: bool
    resumed_from: int = 0

    def summary(self) -> str:
        c = self.counts
        text = (
            f"{self.rows:,} rows: {c.created:,} created, {c.updated:,} updated, "
            f"{c.unchanged:,} unchanged, {self.invalid:,} invalid, in {self.seconds:.1f} s"
        )
        if self.dry_run:
            return f"dry run, nothing written: {text}"
        if self.resumed_from:
            text += f"; continued after row {self.resumed_from:,} of an earlier run"
        if not self.finished:
            text += f"; stopped after row {self.rows_done:,}, run again to continue"
        return text


class UserImportService:
    """``scope`` and ``guard`` are the API caller's (their reach, what they may grant); the
    command line runs with neither, as the operator."""

    def __init__(
        self,
        session: OstiarySession,
        actor: Actor,
        *,
        scope: AdminScope | None = None,
        guard: GrantGuard | None = None,
    ) -> None:
        self.session = session
        self.actor = actor
        self.scope = scope
        self.guard = guard

    # -- validation --------------------------------------------------------------------

    def validate(self, data: bytes, options: ImportOptions) -> Validated:
        """Check every row; refuse the file (nothing written) if any is bad, unless skipping."""
        csv_file = read_csv(data)
        problems: list[RowProblem] = []
        rows: list[ImportRow | None] = []
        seen_names: dict[str, int] = {}
        seen_emails: dict[str, int] = {}
        for parsed in parse_rows(csv_file.rows):
            if isinstance(parsed, list):
                problems += parsed
                rows.append(None)
                continue
            twice = _seen_before(parsed, seen_names, seen_emails)
            problems += twice
            rows.append(None if twice else parsed)
        sha256 = csv_file.sha256
        del csv_file  # the raw cells of a large file take much memory, and are done with
        references = References(
            self.session,
            (row.context for row in rows if row is not None),
            scope=self.scope,
            guard=self.guard,
        )
        expected = Counts()
        chunks: dict[int, PlannedChunk] = {}
        problems += self._plan_all(rows, references, options.chunk_rows, expected, chunks)
        # Validation only read: end the transaction, so that no lock is held meanwhile.
        self.session.rollback()
        if problems and not options.skip_invalid:
            raise InvalidFile(problems, refusal=references.refused)
        problems.sort(key=lambda p: p.line)
        return Validated(sha256, rows, problems, references, expected, chunks)

    def _plan_all(
        self,
        rows: list[ImportRow | None],
        references: References,
        chunk_rows: int,
        expected: Counts,
        chunks: dict[int, PlannedChunk],
    ) -> list[RowProblem]:
        """Plan every good row against the database, chunk by chunk as they will be written;
        rows that fail there become None."""
        problems: list[RowProblem] = []
        planner = Planner(self.session.connection(), references)
        for start in range(0, len(rows), chunk_rows):
            end = min(start + chunk_rows, len(rows))
            good = [(i, row) for i, row in enumerate(rows[start:end], start) if row is not None]
            planned = planner.plan_chunk([r for _, r in good])
            for (i, _row), plan in zip(good, planned.plans, strict=True):
                if isinstance(plan, list):
                    problems += plan
                    rows[i] = None
                else:
                    expected.add([plan])
            chunks[start] = PlannedChunk(start, end, [r for _, r in good], planned)
        return problems

    # -- import ------------------------------------------------------------------------

    def run(
        self, validated: Validated, options: ImportOptions, progress: Progress | None = None
    ) -> ImportReport:
        started = time.perf_counter()
        total = len(validated.rows)
        if options.dry_run:
            return ImportReport(
                None,
                total,
                0,
                validated.expected,
                validated.invalid,
                validated.problems,
                time.perf_counter() - started,
                dry_run=True,
                finished=False,
            )
        job = self.start(validated, options)
        return self.resume(job, validated, options, progress, started=started)

    def start(self, validated: Validated, options: ImportOptions) -> UserImport:
        """The unfinished job of this file, or a new one."""
        with self.session.atomic():
            job = self.session.scalars(
                select(UserImport)
                .where(
                    UserImport.file_sha256 == validated.file_sha256,
                    UserImport.status == ImportStatus.RUNNING,
                )
                .order_by(UserImport.id.desc())
                .limit(1)
            ).first()
            if job is None:
                job = UserImport(
                    file_sha256=validated.file_sha256,
                    actor_id=self.actor.user_id,
                    actor=self.actor.label,
                    skip_invalid=options.skip_invalid,
                    rows_total=len(validated.rows),
                    invalid=validated.invalid,
                    problems=[p.stored() for p in validated.problems[:MAX_LISTED]],
                )
                self.session.add(job)
        return job

    def resume(
        self,
        job: UserImport,
        validated: Validated,
        options: ImportOptions,
        progress: Progress | None = None,
        *,
        started: float | None = None,
    ) -> ImportReport:
        started = time.perf_counter() if started is None else started
        total = len(validated.rows)
        resumed_from = job.rows_done
        planner = Planner(self.session.connection(), validated.references)
        counts = Counts(job.created, job.updated, job.unchanged)
        chunks = 0
        try:
            for start in range(job.rows_done, total, options.chunk_rows):
                if options.stop_after_chunks is not None and chunks >= options.stop_after_chunks:
                    break
                end = min(start + options.chunk_rows, total)
                self._chunk(job, planner, validated, start, end, counts)
                chunks += 1
                if progress is not None:
                    progress(end, total)
            if job.rows_done >= total and job.status == ImportStatus.RUNNING:
                self._finish(job, counts)
        except InvalidFile as exc:
            self.fail(job, exc.problems)
            raise
        return ImportReport(
            job.id,
            total,
            job.rows_done,
            counts,
            job.invalid,
            validated.problems,
            time.perf_counter() - started,
            dry_run=False,
            finished=job.status == ImportStatus.DONE,
            resumed_from=resumed_from,
        )

    def _chunk(
        self,
        job: UserImport,
        planner: Planner,
        validated: Validated,
        start: int,
        end: int,
        counts: Counts,
    ) -> None:
        with self.session.atomic():
            planner.connection = self.session.connection()
            chunk = validated.chunks.get(start)
            if (
                chunk is not None
                and chunk.end == end
                and planner.still(chunk.rows, chunk.planned.seen)
            ):
                good = chunk.plans()
            else:
                good = self._plan_again(
                    [r for r in validated.rows[start:end] if r is not None], planner
                )
            events = write_chunk(self.session.connection(), self.actor, good)
            collect_written(self.session, events)
            counts.add(good)
            job.created, job.updated, job.unchanged = (
                counts.created,
                counts.updated,
                counts.unchanged,
            )
            job.rows_done = end

    @staticmethod
    def _plan_again(rows: list[ImportRow], planner: Planner) -> list[RowPlan]:
        """Someone changed the database since validation: what the rows would do now. The
        job fails with the problems it finds."""
        plans = planner.plan(rows)
        late = [p for plan in plans if isinstance(plan, list) for p in plan]
        if late:
            raise InvalidFile(late)
        return [plan for plan in plans if isinstance(plan, RowPlan)]

    def _finish(self, job: UserImport, counts: Counts) -> None:
        with self.session.atomic():
            job.status = ImportStatus.DONE
            job.finished_at = utcnow()
            if not counts.created and not counts.updated:
                return  # an import that changed nothing leaves no trace in the audit log
            AuditLog(self.session).record(
                self.actor,
                "users.imported",
                target_type="user_import",
                target_id=job.id,
                changes={
                    "file_sha256": job.file_sha256,
                    "rows": job.rows_total,
                    "created": counts.created,
                    "updated": counts.updated,
                    "unchanged": counts.unchanged,
                    "invalid": job.invalid,
                },
            )

    def fail(self, job: UserImport, problems: list[RowProblem]) -> None:
        with self.session.atomic():
            job.status = ImportStatus.FAILED
            job.finished_at = utcnow()
            job.problems = [p.stored() for p in problems[:MAX_LISTED]]

    def job(self, job_id: uuid.UUID) -> UserImport:
        job = self.session.get(UserImport, job_id)
        if job is None or (
            self.scope is not None
            and not self.scope.unrestricted
            and job.actor_id != self.actor.user_id
        ):
            raise NotFound(
                Text("no user import with id '{import_id}'", import_id=job_id), field="id"
            )
        return job


def _seen_before(row: ImportRow, names: dict[str, int], emails: dict[str, int]) -> list[RowProblem]:
    problems = []
    first = names.setdefault(row.username, row.line)
    if first != row.line:
        problems.append(
            RowProblem(
                row.line,
                "username",
                Text(
                    "username '{username}' is already on line {first}",
                    username=row.username,
                    first=first,
                ),
            )
        )
    if row.email_key:
        first = emails.setdefault(row.email_key, row.line)
        if first != row.line:
            problems.append(
                RowProblem(
                    row.line,
                    "email",
                    Text("the e-mail address is already on line {first}", first=first),
                )
            )
    return problems
