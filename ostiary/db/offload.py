"""Where a request's synchronous database block runs.

On SQLite a statement is a call into the library that answers from its page cache in
microseconds, less than a hop to the thread pool and back costs, so the block runs on the event
loop. On PostgreSQL a statement waits for the network: the block goes to the thread pool, one
hop, so that other requests go on meanwhile. The block must not ``await`` while a transaction
is open, and on SQLite it must not wait for the write lock (only reads and short writes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")


async def run_database_block(engine: Engine, work: Callable[[], T]) -> T:
    if engine.dialect.name == "sqlite":
        return work()
    return await run_in_threadpool(work)
