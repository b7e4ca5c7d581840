"""Fixed-window counters for tries and sends, raised atomically on SQLite and PostgreSQL.

``take`` is one conditional ``UPDATE``: it raises the counter only while it is below the limit
(or starts a new window when the old one is over), and tells by the row count whether it did.
On PostgreSQL concurrent updates of the row queue for its lock and re-check the condition; on
SQLite writers are serialized by the database lock. So a hundred parallel tries against a limit
of ten are counted as a hundred attempts, of which exactly ten get through.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ostiary.authn.factors.models import FactorCounter
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow


class WindowCounter:
    def __init__(self, session: OstiarySession, *, limit: int, window: timedelta) -> None:
        self.session = session
        self.limit = limit
        self.window = window

    def take(self, key: str, *, now: datetime | None = None) -> bool:
        """Count one more for ``key``; False (and nothing counted) when the limit is reached."""
        now = now or utcnow()
        self._ensure(key, now)
        cutoff = now - self.window
        expired = FactorCounter.window_start <= cutoff
        result = self.session.execute(
            update(FactorCounter)
            .where(FactorCounter.key == key, expired | (FactorCounter.count < self.limit))
            .values(
                count=case((expired, 1), else_=FactorCounter.count + 1),
                window_start=case((expired, now), else_=FactorCounter.window_start),
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    def used(self, key: str, *, now: datetime | None = None) -> int:
        """How many were counted in the current window."""
        now = now or utcnow()
        row = self.session.get(FactorCounter, key, populate_existing=True)
        if row is None or row.window_start <= now - self.window:
            return 0
        return row.count

    def retry_after(self, key: str, *, now: datetime | None = None) -> int:
        """Seconds until the current window of ``key`` is over (0 when none is running)."""
        now = now or utcnow()
        row = self.session.get(FactorCounter, key, populate_existing=True)
        if row is None:
            return 0
        left = (row.window_start + self.window - now).total_seconds()
        return max(int(left) + 1, 0) if left > 0 else 0

    def reset(self, key: str) -> None:
        self.session.execute(
            update(FactorCounter)
            .where(FactorCounter.key == key)
            .values(count=0)
            .execution_options(synchronize_session=False)
        )

    def _ensure(self, key: str, now: datetime) -> None:
        dialect = self.session.get_bind().dialect.name
        values = {"key": key, "count": 0, "window_start": now}
        if dialect == "postgresql":
            stmt = pg_insert(FactorCounter).values(values).on_conflict_do_nothing()
        elif dialect == "sqlite":
            stmt = sqlite_insert(FactorCounter).values(values).on_conflict_do_nothing()
        else:  # pragma: no cover - only the two databases are supported
            stmt = insert(FactorCounter).values(values)
        self.session.execute(stmt)
