"""PostgreSQL connections in the pool: tested before use only after idling, and a dead one is
replaced without the request noticing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from ostiary.db import engine as engines
from ostiary.db.engine import make_engine
from tests.conftest import Database


@pytest.fixture
def pg_engine(postgresql_database: Database) -> Iterator[Engine]:
    engine = make_engine(postgresql_database.url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_killed_while_idle_is_replaced(
    pg_engine: Engine, postgresql_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = _backend_pid(pg_engine)
    with make_engine(postgresql_database.url).connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead})
        admin.commit()
    monkeypatch.setattr(engines, "IDLE_PING_SECONDS", 0.0)
    # The pooled connection is dead; the checkout's ping finds out and opens a new one.
    assert _backend_pid(pg_engine) != dead


def test_only_a_connection_that_idled_is_pinged(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    ping = pg_engine.dialect.do_ping
    monkeypatch.setattr(pg_engine.dialect, "do_ping", lambda c: pings.append(c) or ping(c))
    _backend_pid(pg_engine)
    _backend_pid(pg_engine)
    assert pings == []
    monkeypatch.setattr(engines, "IDLE_PING_SECONDS", 0.0)
    _backend_pid(pg_engine)
    assert len(pings) == 1
