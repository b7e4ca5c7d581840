"""Where a request's synchronous database block runs.

On SQLite a statement is a call into the library that answers from its page cache in
microseconds, less than a hop to the thread pool and back costs, so the block runs on the event
loop. On PostgreSQL a statement waits for the network: the block goes to the thread pool, one
hop, so that other requests go on meanwhile. The block must not ``await`` while a transaction
is open, and on SQLite it must not wait for the write lock (only reads and short writes).

A block that may well need no statement at all, because what it reads is kept by this process
while the change feed vouches for it (``ostiary.db.changes``), is first tried on the event loop
with the database out of reach: the hop costs a warm token request on PostgreSQL twice what
the rest of it does. At its first use of the database (``OstiarySession.get_bind``) it is
stopped by ``NeedsDatabase`` and run again, whole, in the thread pool. So such a block must
change nothing outside the database before its first statement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")

_OUT_OF_REACH: ContextVar[bool] = ContextVar("ostiary_database_out_of_reach", default=False)


class NeedsDatabase(BaseException):
    """A block tried on the event loop wants the database. A BaseException, so that the
    block's own ``except Exception`` clauses let it through."""


def check_reach() -> None:
    """Raise ``NeedsDatabase`` where the database is out of reach (the session's hook)."""
    if _OUT_OF_REACH.get():
        raise NeedsDatabase


@contextmanager
def database_out_of_reach() -> Iterator[None]:
    token = _OUT_OF_REACH.set(True)
    try:
        yield
    finally:
        _OUT_OF_REACH.reset(token)


async def run_database_block(
    engine: Engine, work: Callable[[], T], *, may_need_none: bool = False
) -> T:
    """Run ``work``; with ``may_need_none``, first on the event loop without the database."""
    if engine.dialect.name == "sqlite":
        return work()
    if may_need_none:
        try:
            with database_out_of_reach():
                return work()
        except NeedsDatabase:
            pass
    return await run_in_threadpool(work)
