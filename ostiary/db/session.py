"""Sessions whose services mark the transaction they own with ``atomic()``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from ostiary.access.epochs import EpochMirror
    from ostiary.db.changes import ChangeFeed


class OstiarySession(Session):
    """A session whose outermost ``atomic()`` block commits; inner blocks join it."""

    _atomic_depth: int = 0

    def __init__(self, *args: Any, mirror: EpochMirror | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rights counters kept by this process (``ostiary.access.epochs``), for sessions that
        # only read; None for those that write.
        self.mirror = mirror

    @property
    def feed(self) -> ChangeFeed | None:
        """The change feed that vouches for what this process keeps, in sessions that only
        read (``ostiary.db.changes``)."""
        return self.mirror.feed if self.mirror is not None else None

    def core(self) -> Connection:
        """The session's connection for Core statements, after flushing pending changes.

        Hot read paths run prebuilt Core statements here: the ORM's per-statement work costs
        several times what a small query does. Unlike ``execute``, a connection does not
        autoflush, hence the flush.
        """
        self.flush()
        return self.connection()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        from ostiary.errors import conflict_from_integrity_error

        outermost = self._atomic_depth == 0
        self._atomic_depth += 1
        try:
            yield
            self.flush()
            if outermost:
                self.commit()
        except IntegrityError as exc:
            if outermost:
                self.rollback()
            raise conflict_from_integrity_error(exc) from exc
        except BaseException:
            if outermost:
                self.rollback()
            raise
        finally:
            self._atomic_depth -= 1


def make_session_factory(
    engine: Engine, *, mirror: EpochMirror | None = None
) -> sessionmaker[OstiarySession]:
    # Every model and the session hooks that keep derived tables in step (rights epochs,
    # search terms) must be loaded wherever sessions are made, not only where migrations run.
    import ostiary.db.models  # noqa: F401

    return sessionmaker(bind=engine, class_=OstiarySession, expire_on_commit=False, mirror=mirror)
