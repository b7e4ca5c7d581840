"""Where a request's database block runs: a block that may need no statement is tried on the
event loop first, and goes to the thread pool, whole, at its first use of the database."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import text

from ostiary.db.offload import run_database_block
from ostiary.runtime import Runtime


def _run(runtime: Runtime, *, reads: bool, swallow: bool = False) -> tuple[list[str], int]:
    """Where each try of the block ran ("loop" or "pool"), and what it answered."""
    tries: list[str] = []

    async def main() -> int:
        loop_thread = threading.current_thread()

        def work() -> int:
            tries.append("loop" if threading.current_thread() is loop_thread else "pool")
            with runtime.read_sessions() as session:
                if not reads:
                    return 7
                try:
                    return int(session.execute(text("SELECT 41 + 1")).scalar_one())
                except Exception:  # a block's own error handling must not hide the need
                    if swallow:
                        return -1
                    raise

        return await run_database_block(runtime.engine, work, may_need_none=True)

    answer = asyncio.run(main())
    return tries, answer


def test_a_block_that_reads_nothing_stays_on_the_loop(runtime: Runtime) -> None:
    assert _run(runtime, reads=False) == (["loop"], 7)


def test_a_block_that_reads_goes_to_the_pool_on_postgresql(runtime: Runtime) -> None:
    expected = ["loop"] if runtime.engine.dialect.name == "sqlite" else ["loop", "pool"]
    assert _run(runtime, reads=True) == (expected, 42)
    assert _run(runtime, reads=True, swallow=True) == (expected, 42)
