"""Time user search and reads on a large database (see docs/benchmarks.md).

    .venv/bin/python bench/user_search.py --users 1000000 --contexts 10000 --write-docs
    .venv/bin/python bench/user_search.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/ostiary_bench --write-docs

Without --reuse the dedicated database is made anew: the SQLite file under bench/.data/ is
removed, the PostgreSQL database (whose name must start with ostiary_bench) is dropped and
created. With --reuse, data that an earlier run of the same size left is used as it is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ostiary.benchmark import (
    BenchmarkError,
    BenchReport,
    BenchSize,
    bench_settings,
    render_report,
    run_benchmark,
    write_marked_block,
)
from ostiary.benchmark import prepare_database as shared_prepare_database

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / ".data"
DOCS = HERE.parent / "docs" / "benchmarks.md"
DEFAULT_URL = f"sqlite:///{DATA_DIR / 'user_search.db'}"
BENCH_DATABASE_PREFIX = "ostiary_bench"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help="default: %(default)s")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--contexts", type=int, default=10_000, help="the root included")
    parser.add_argument("--repetitions", type=int, default=200, help="timed runs per query")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs per query first")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep data of an earlier run")
    parser.add_argument(
        "--write-docs", action="store_true", help=f"put the figures into {DOCS.name}"
    )
    return parser.parse_args(argv)


def prepare_database(url: str, *, reuse: bool) -> None:
    shared_prepare_database(url, reuse=reuse, prefix=BENCH_DATABASE_PREFIX)


def update_docs(report: BenchReport, path: Path = DOCS) -> None:
    """Replace the figures between this database's markers, or append them."""
    backend = report.database.split()[0].lower()
    write_marked_block(path, f"figures:{backend}", render_report(report))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = str(bench_settings(args.database_url, DATA_DIR).effective_database_url)
    try:
        prepare_database(url, reuse=args.reuse)
        report = run_benchmark(
            bench_settings(url, DATA_DIR),
            BenchSize(args.users, args.contexts),
            repetitions=args.repetitions,
            warmup=args.warmup,
            seed=args.seed,
            progress=lambda message: print(message, file=sys.stderr, flush=True),
        )
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(render_report(report))
    if args.write_docs:
        update_docs(report)
        print(f"figures written to {DOCS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
