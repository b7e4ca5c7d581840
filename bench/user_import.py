"""Time the CSV import of users on a fresh SQLite database (see docs/benchmarks.md).

    .venv/bin/python bench/user_import.py --write-docs
    .venv/bin/python bench/user_import.py --rows 200     # a tiny run, as the tests do

It writes a file of ``--rows`` users spread over ``--contexts`` accounts (each with a group
that half of its users join), imports it through ``ostiary.imports`` as ``ostiary users
import`` does, and imports it a second time (every row unchanged).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ostiary.access.groups import GroupService
from ostiary.audit.actor import Actor
from ostiary.benchmark import bench_settings, database_version, machine_summary, write_marked_block
from ostiary.cli import prepare
from ostiary.contexts.models import ContextType
from ostiary.contexts.schemas import ContextCreate
from ostiary.contexts.services import ContextService
from ostiary.imports.services import ImportOptions, ImportReport, UserImportService
from ostiary.runtime import Runtime

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
MARKER = "figures:user-import"
GOAL_SECONDS = 120.0
GOAL_ROWS = 100_000


@dataclass(frozen=True)
class ImportFigures:
    rows: int
    contexts: int
    first: ImportReport
    validation_seconds: float
    second: ImportReport
    peak_mib: float
    load: tuple[float, float]
    database: str


def write_file(path: Path, rows: int, contexts: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(
            [
                "username",
                "email",
                "first_name",
                "last_name",
                "phone",
                "language",
                "status",
                "context",
                "groups",
            ]
        )
        for i in range(rows):
            out.writerow(
                [
                    f"user{i:07}",
                    f"user{i:07}@example.com",
                    f"First{i % 997}",
                    f"Last{i % 9973}",
                    f"+4179{i % 10_000_000:07}",
                    ("de-CH", "fr-CH", "en")[i % 3],
                    "active",
                    f"acct-{i % contexts:04}",
                    "Staff" if i % 2 else "",
                ]
            )


def make_contexts(runtime: Runtime, count: int) -> None:
    actor = Actor(label="bench", via="cli")
    with runtime.sessions() as session:
        contexts = ContextService(session, actor)
        root = contexts.root()
        assert root is not None
        groups = GroupService(session, actor)
        for i in range(count):
            context = contexts.create(
                ContextCreate(
                    type=ContextType.ACCOUNT,
                    name=f"Account {i}",
                    key=f"acct-{i:04}",
                    parent_id=root.id,
                )
            )
            groups.put(context, "Staff", role=None, rights={})


def measure(rows: int, contexts: int) -> ImportFigures:
    with tempfile.TemporaryDirectory(prefix="ostiary-import-bench-") as directory:
        place = Path(directory)
        runtime = Runtime.from_settings(bench_settings(f"sqlite:///{place / 'bench.db'}", place))
        try:
            prepare(runtime)
            make_contexts(runtime, contexts)
            file = place / "users.csv"
            write_file(file, rows, contexts)
            data = file.read_bytes()
            before = os.getloadavg()[0]
            options = ImportOptions()
            with runtime.sessions() as session:
                service = UserImportService(session, Actor(label="bench", via="cli"))
                started = time.perf_counter()
                validated = service.validate(data, options)
                validation = time.perf_counter() - started
                first = service.run(validated, options)
                first.seconds = time.perf_counter() - started  # validation included
            with runtime.sessions() as session:
                service = UserImportService(session, Actor(label="bench", via="cli"))
                started = time.perf_counter()
                second = service.run(service.validate(data, options), options)
                second.seconds = time.perf_counter() - started
            after = os.getloadavg()[0]
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            return ImportFigures(
                rows,
                contexts,
                first,
                validation,
                second,
                peak,
                (before, after),
                database_version(runtime.engine),
            )
        finally:
            runtime.close()


def render(f: ImportFigures) -> str:
    met = f.rows < GOAL_ROWS or f.first.seconds <= GOAL_SECONDS * f.rows / GOAL_ROWS
    goal = "met" if met else "missed"
    return (
        f"Import of {f.rows:,} users into {f.contexts:,} accounts (half of them into a group), "
        f"{f.database}, {machine_summary()}; load average {f.load[0]:.2f} before, "
        f"{f.load[1]:.2f} after.\n\n"
        "| run | rows | created | unchanged | total | of which validation | rows/s |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        f"| first | {f.rows:,} | {f.first.counts.created:,} | {f.first.counts.unchanged:,} | "
        f"{f.first.seconds:.1f} s | {f.validation_seconds:.1f} s | "
        f"{f.rows / f.first.seconds:,.0f} |\n"
        f"| again | {f.rows:,} | {f.second.counts.created:,} | {f.second.counts.unchanged:,} | "
        f"{f.second.seconds:.1f} s | | {f.rows / f.second.seconds:,.0f} |\n\n"
        f"Peak memory (resident) {f.peak_mib:,.0f} MiB. Goal: {GOAL_ROWS:,} users in under "
        f"{GOAL_SECONDS:.0f} s: {goal}. Every audit event is written (user.created, "
        "membership.added, group.members_changed).\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=GOAL_ROWS)
    parser.add_argument("--contexts", type=int, default=100)
    parser.add_argument(
        "--write-docs", action="store_true", help=f"put the figures into {DOCS.name}"
    )
    parser.add_argument("--docs", type=Path, default=DOCS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    figures = measure(args.rows, args.contexts)
    text = render(figures)
    print(text)
    if args.write_docs:
        write_marked_block(args.docs, MARKER, text)
        print(f"figures written to {args.docs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
