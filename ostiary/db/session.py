"""Sessions whose services mark the transaction they own with ``atomic()``."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from ostiary.db.changes import wrote
from ostiary.db.offload import check_reach

if TYPE_CHECKING:
    from ostiary.access.epochs import EpochMirror
    from ostiary.db.changes import ChangeFeed

V = TypeVar("V")
# Idle reading sessions kept for reuse: more than requests read at once in one process.
MAX_IDLE_SESSIONS = 64


class OstiarySession(Session):
    """A session whose outermost ``atomic()`` block commits; inner blocks join it."""

    _atomic_depth: int = 0
    # Where this session goes when its ``with`` block ends, if its factory reuses sessions.
    _idle: list[OstiarySession] | None = None

    def __init__(self, *args: Any, mirror: EpochMirror | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rights counters and other values kept by this process (``ostiary.access.epochs``,
        # ``ostiary.db.changes``), which this session may use until it changes what they are
        # read from.
        self._mirror = mirror
        self._connection: Connection | None = None

    @property
    def mirror(self) -> EpochMirror | None:
        """What this process keeps, while this session's transaction has not changed any of
        the tables it is read from (nor holds changes yet to flush): its own changes are not
        in there."""
        # Any change waiting for the flush counts: flushing some (a membership, say) raises
        # rights counters on its way.
        if self._mirror is None or self.new or self.dirty or self.deleted:
            return None
        if self._connection is not None and wrote(self._connection):
            return None
        return self._mirror

    @property
    def feed(self) -> ChangeFeed | None:
        """The change feed that vouches for what this process keeps, under the same terms as
        ``mirror``."""
        mirror = self.mirror
        return mirror.feed if mirror is not None else None

    def kept(self, name: str, key: Hashable, topics: tuple[str, ...], read: Callable[[], V]) -> V:
        """``read()``, or what an earlier transaction read for ``key`` (among the values kept
        under ``name``) while the change feed vouches that none of ``topics`` changed since."""
        feed = self.feed
        if feed is None:
            return read()
        kept = feed.kept(name)
        found = kept.get(feed, key)
        if found is not None:
            held: V = found[0]
            return held
        value = read()
        # In a 1-tuple, so that None is kept too.
        kept.keep(feed, self.connection(), key, (value,), topics)
        return value

    def __exit__(self, *exc_info: object) -> None:
        idle = self._idle
        if idle is not None and len(idle) < MAX_IDLE_SESSIONS:
            # Closing a session that began nothing and holds nothing has nothing to end.
            if self.in_transaction() or self.identity_map or self._new or self._deleted:
                self.close()
            self.info.clear()
            idle.append(self)
        else:
            self.close()

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        # Every statement, flush and connection of a session asks for its bind first.
        check_reach()
        return super().get_bind(*args, **kwargs)

    def memo(self, name: str) -> dict[Any, Any]:
        """A dict for what this transaction has read already, under ``name``: emptied when
        the next transaction begins, since others may have changed it by then."""
        transaction = self.get_transaction()
        held = self.info.get(name)
        if held is None or held[0] is not transaction:
            held = (transaction, {})
            self.info[name] = held
        memo: dict[Any, Any] = held[1]
        return memo

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


@event.listens_for(OstiarySession, "after_begin")
def _note_connection(
    session: OstiarySession, _transaction: SessionTransaction, connection: Connection
) -> None:
    session._connection = connection


@event.listens_for(OstiarySession, "after_transaction_end")
def _forget_connection(session: OstiarySession, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session._connection = None


class ReusingSessionmaker(sessionmaker[OstiarySession]):
    """Hands out sessions whose ``with`` block ended again, instead of new ones.

    Making a session and closing it costs a tenth of a warm token or introspection request,
    which reads nothing from the database. A session goes back to the idle list when its
    ``with`` block ends, closed if it began a transaction or holds objects, with its ``info``
    emptied; so use a session of such a factory only inside its ``with`` block.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle: list[OstiarySession] = []

    def __call__(self, **local_kw: Any) -> OstiarySession:
        if local_kw:
            return super().__call__(**local_kw)
        try:
            return self._idle.pop()
        except IndexError:
            session = super().__call__()
            session._idle = self._idle
            return session


def make_session_factory(
    engine: Engine, *, mirror: EpochMirror | None = None, reuse: bool = False
) -> sessionmaker[OstiarySession]:
    """Sessions of ``engine``; with ``reuse`` a ``ReusingSessionmaker``."""
    # Every model and the session hooks that keep derived tables in step (rights epochs,
    # search terms) must be loaded wherever sessions are made, not only where migrations run.
    import ostiary.db.models  # noqa: F401

    factory = ReusingSessionmaker if reuse else sessionmaker
    return factory(bind=engine, class_=OstiarySession, expire_on_commit=False, mirror=mirror)
