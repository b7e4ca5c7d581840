"""Engines for SQLite (WAL, busy timeout, foreign keys) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry

# The page cache of each connection.
SQLITE_CACHE_KIB = 64 * 1024

# How long a writer waits for another to finish, in this process and across processes.
SQLITE_BUSY_SECONDS = 30

# A pooled PostgreSQL connection idle for longer than this is tested before use.
IDLE_PING_SECONDS = 10.0

# An execution option for engines whose sessions only read (see ``reading_engine``).
READ_ONLY = "ostiary_read_only"


def reading_engine(engine: Engine) -> Engine:
    """The same engine and pool for sessions that only read.

    On SQLite their transactions begin deferred; a write in one still works when it comes
    first in its transaction (after a rollback, say), but one after reads can fail with
    SQLITE_BUSY when another process wrote in between, so use it for reads only.

    On PostgreSQL they run in autocommit: under READ COMMITTED every statement takes a
    snapshot of its own anyway, so a transaction around reads adds nothing but the round
    trips of its BEGIN and ROLLBACK, a third of a warm authorization check's. A write in such
    a session (the audit event of a refusal) commits at once, which is what it wants.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT", **{READ_ONLY: True})
    return engine.execution_options(**{READ_ONLY: True})


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled connection before use only when it has been idle a while.

    ``pool_pre_ping`` pings at every checkout: a round trip as long as a warm authorization
    check's own statement. A connection in steady use was working a moment ago; one that
    idled may have been closed by the server, a proxy or a restart. And when a statement does
    meet a dead connection, SQLAlchemy invalidates the whole pool, so only the requests that
    were using it at that moment fail.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["ostiary_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get("ostiary_idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
            # The ping began a transaction (the driver's implicit BEGIN); end it.
            dbapi_connection.rollback()
        except Exception as exc:
            # The pool discards the connection and checks out another.
            raise DisconnectionError(str(exc)) from exc


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_SECONDS)
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    turn = WriteTurn()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # SQLite's default page cache (2 MiB) suits small files; at a million users every
        # request would fetch its index pages from the OS anew.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock at the start: a deferred transaction that reads and then writes
        # fails at once with SQLITE_BUSY when another worker wrote in between, whereas an
        # immediate one waits for the busy timeout. Sessions that only read say so and take
        # no lock, so that they neither wait for writers nor hold writers up.
        # Straight to the driver: as a SQLAlchemy statement a BEGIN cost a third of a short
        # transaction's time.
        driver = connection.connection.driver_connection
        if connection.get_execution_options().get(READ_ONLY):
            driver.execute("BEGIN")
            return
        info = connection.connection.info
        turn.take(info)
        try:
            driver.execute("BEGIN IMMEDIATE")
        except BaseException:
            turn.give_back(info)
            raise

    # SQLAlchemy has no event after a COMMIT or ROLLBACK, only before: the turn is given
    # back by the dialect's own calls, once the transaction has really ended.
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        commit(dbapi_connection)
        turn.give_back(_info(dbapi_connection))

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            turn.give_back(_info(dbapi_connection))

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    @event.listens_for(engine, "reset")
    def _on_reset(_dbapi_connection: Any, record: ConnectionPoolEntry, _state: Any) -> None:
        turn.give_back(record.info)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi_connection: Any, record: ConnectionPoolEntry, _exc: Any) -> None:
        turn.give_back(record.info)

    return engine


def _info(dbapi_connection: Any) -> dict[Any, Any] | None:
    # The dialect's first connection, made before the pool has an entry for it, has none.
    try:
        return dbapi_connection.info  # type: ignore[no-any-return]
    except (AttributeError, NotImplementedError):
        return None


class WriteTurn:
    """One writing transaction at a time among this process's connections to a SQLite file.

    SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps
    in steps of up to 100 ms and so wakes long after the lock came free: with eight logins at
    once, most of a login's time went to those sleeps. Writers of one process queue here
    instead and go in the moment the one before commits. Other processes still meet SQLite's
    own lock and its busy handler.
    """

    _HELD = "ostiary_write_turn"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def take(self, info: dict[Any, Any]) -> None:
        if not self._lock.acquire(timeout=SQLITE_BUSY_SECONDS):
            raise OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            )
        info[self._HELD] = True

    def give_back(self, info: dict[Any, Any] | None) -> None:
        if info is not None and info.pop(self._HELD, False):
            self._lock.release()
