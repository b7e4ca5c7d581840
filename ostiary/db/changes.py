"""What other connections committed, told to this process's caches.

A cache of rights counters or credentials is valid while nothing it depends on changed.
Asking the database before every use costs a statement, a round trip to PostgreSQL; a change
feed tells the process instead, so that a warm answer reads nothing:

* PostgreSQL: triggers send the topic of each committed change with ``NOTIFY`` (migration
  0020), and a thread of the feed ``LISTEN``s on a connection of its own. While it is not
  connected the feed is not live and caches read the database as they would without it; when
  it connects again everything counts as changed, since notices may have been missed.
* SQLite: the same triggers append the topics to ``change_topics`` (``ostiary.db.change_topics``);
  ``PRAGMA data_version`` on a connection of the feed's own changes whenever any other
  connection, of this process or another, committed, and then the feed reads the new topics.

A value is current while ``unchanged`` holds for its topics since the stamp of the transaction
that read it (``stamp_of``), taken when that transaction began: on SQLite a reading
transaction sees the snapshot of its first statement, which is no older than its beginning.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, event

log = logging.getLogger(__name__)

CHANNEL = "ostiary_changes"

# Keys in SQLAlchemy's per-connection ``info``.
_STAMP = "ostiary_change_stamp"
_PENDING = "ostiary_pending_topics"
_WROTE = "ostiary_wrote"


class ChangeFeed:
    """Topics touched, in order: a stamp is the number of touches so far."""

    def __init__(self, *, max_topics: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._all_since = 0  # the touch at which every topic last changed
        self._touched: dict[str, int] = {}
        self._max_topics = max_topics
        self._live = False
        self._started = False
        self._kept: dict[str, Vouched[Any, Any]] = {}

    @property
    def live(self) -> bool:
        """Whether the feed hears changes now (then kept values may be used)."""
        return self._live

    def kept(self, name: str) -> Vouched[Any, Any]:
        """Values vouched for by this feed under ``name``, for caches that have no object of
        their own in the runtime (they live as long as the feed does)."""
        with self._lock:
            found = self._kept.get(name)
            if found is None:
                found = self._kept[name] = Vouched()
            return found

    def stamp(self) -> int | None:
        """The current stamp, or None while the feed is not live (read the database). Not
        started by this: processes that keep nothing need not follow changes."""
        if not self._started:
            return None
        self._poll()
        with self._lock:
            return self._count if self._live else None

    def unchanged(self, topics: Iterable[tuple[str, int]]) -> bool:
        """Whether none of the topics changed since its stamp, each (topic, stamp). The first
        question starts the feed (and is answered no)."""
        if not self._started:
            self.follow()
            return False
        self._poll()
        with self._lock:
            if not self._live:
                return False
            touched = self._touched
            for topic, stamp in topics:
                if self._all_since > stamp or touched.get(topic, 0) > stamp:
                    return False
            return True

    def follow(self) -> None:
        """Start following changes, once: the first cache that keeps something calls it."""
        if not self._started:
            self._started = True
            self.start()

    def touch(self, topics: Iterable[str]) -> None:
        with self._lock:
            self._count += 1
            for topic in topics:
                self._touched[topic] = self._count
            if len(self._touched) > self._max_topics:
                self._touch_all()

    def touch_all(self) -> None:
        with self._lock:
            self._touch_all()

    def _touch_all(self) -> None:
        self._count += 1
        self._all_since = self._count
        self._touched.clear()

    def _set_live(self, live: bool) -> None:
        with self._lock:
            self._touch_all()
            self._live = live

    def _poll(self) -> None:
        """Learn of changes before answering; feeds that are told by a thread need not."""

    def _committed_here(self) -> None:
        """A connection of this process committed (its raised topics are touched already)."""

    def stamp_of(self, connection: Connection) -> int | None:
        """The stamp taken when ``connection``'s transaction began (see ``attach``); None once
        it changed what is kept (``wrote``), since what it reads then may never be committed."""
        if connection.info.get(_WROTE):
            return None
        stamp = connection.info.get(_STAMP)
        return stamp if isinstance(stamp, int) else None

    def attach(self, engine: Engine) -> None:
        """Stamp each transaction of ``engine`` when it begins, and touch the topics it
        raised (``pending``) as it commits: at once for this process, before the notice of
        its commit comes back."""

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            connection.info[_STAMP] = self.stamp()

        @event.listens_for(engine, "before_cursor_execute")
        def _on_statement(connection: Connection, *args: Any) -> None:
            statement: str = args[1]
            if _reads_only(statement):
                return
            written = _WRITTEN_TABLE.match(statement)
            table = written.group(1).lower() if written is not None else None
            if table is None or table in WATCHED_TABLES:
                connection.info[_WROTE] = True
            if table in TABLE_TOPICS:
                pending(connection, (TABLE_TOPICS[table],))

        @event.listens_for(engine, "commit")
        def _on_commit(connection: Connection) -> None:
            connection.info.pop(_WROTE, None)
            topics = connection.info.pop(_PENDING, None)
            if topics:
                self.touch(topics)
            self._committed_here()

        @event.listens_for(engine, "rollback")
        def _on_rollback(connection: Connection) -> None:
            if connection.invalidated:
                # Its DBAPI connection is gone, and with it what was noted there.
                return
            connection.info.pop(_WROTE, None)
            connection.info.pop(_PENDING, None)

    def start(self) -> None:
        """Begin following changes."""

    def stop(self) -> None:
        """Stop following: not live any more."""
        self._set_live(False)


def wrote(connection: Connection) -> bool:
    """Whether ``connection``'s transaction changed a table that kept values depend on (or
    ran a statement that is neither a query nor a plain INSERT, UPDATE or DELETE)."""
    return bool(connection.info.get(_WROTE))


def _reads_only(statement: str) -> bool:
    return statement.lstrip()[:6].upper() == "SELECT"


def pending(connection: Connection, topics: Iterable[str]) -> None:
    """Note topics that ``connection``'s transaction changes, for ``ChangeFeed.attach``."""
    connection.info.setdefault(_PENDING, set()).update(topics)


# Tables whose every change is one topic (the triggers of migrations 0020 and 0023 name the
# same), for caches that depend on the whole table.
TABLE_TOPICS = {
    "clients": "clients",
    "signing_keys": "keys",
    "oauth_revoked_access_tokens": "revocations",
    "brandings": "brandings",
    "identity_providers": "identity_providers",
}


# The tables that kept values are read from: the rights counters, users' sign-in columns, and
# the tables above. A transaction that changed one reads them from the database again.
WATCHED_TABLES = frozenset({"rights_epochs", "users", *TABLE_TOPICS})

# The table that an INSERT, UPDATE or DELETE (as SQLAlchemy renders them) writes.
_WRITTEN_TABLE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Vouched(Generic[K, V]):
    """Values read in stamped transactions, handed out while the feed says that none of their
    topics changed since; at most ``max_entries``, the oldest written forgotten first."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self._max = max_entries
        self._entries: OrderedDict[K, tuple[V, int, tuple[str, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, feed: ChangeFeed, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        value, stamp, topics = entry
        return value if feed.unchanged((topic, stamp) for topic in topics) else None

    def keep(
        self, feed: ChangeFeed, connection: Connection, key: K, value: V, topics: Iterable[str]
    ) -> None:
        """Keep ``value`` as read on ``connection``, depending on ``topics``."""
        stamp = feed.stamp_of(connection)
        if stamp is None:
            feed.follow()  # so that the next transaction's reading can be kept
            return
        with self._lock:
            self._entries[key] = (value, stamp, tuple(topics))
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


class NoChangeFeed(ChangeFeed):
    """Never live: every cache reads the database (an in-memory database, say)."""


class SQLiteChangeFeed(ChangeFeed):
    # At most one look at data_version in this time, unless this process committed since:
    # what other processes commit is heard within it, what this one commits at once.
    POLL_SECONDS = 0.001
    # The log is cut back to ``KEEP_TOPICS`` rows when it holds more than ``MAX_TOPICS``.
    MAX_TOPICS = 20_000
    KEEP_TOPICS = 5_000

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._path = path
        self._watcher: sqlite3.Connection | None = None
        self._version: int | None = None
        self._last_id: int | None = None
        self._watch_lock = threading.Lock()
        self._next_poll = 0.0

    def start(self) -> None:
        with self._watch_lock:
            if self._watcher is None:
                # Never waits for the write lock: pruning is skipped while others write.
                self._watcher = sqlite3.connect(self._path, check_same_thread=False, timeout=0)
                self._version = None
                self._last_id = None
                self._set_live(True)

    def stop(self) -> None:
        with self._watch_lock:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None
        super().stop()

    def _committed_here(self) -> None:
        self._next_poll = 0.0

    def _poll(self) -> None:
        now = time.monotonic()
        if now < self._next_poll:
            return
        with self._watch_lock:
            if self._watcher is None:
                return
            self._next_poll = now + self.POLL_SECONDS
            (version,) = self._watcher.execute("PRAGMA data_version").fetchone()
            if version != self._version:
                self._version = version
                self._read_topics(self._watcher)

    def _read_topics(self, watcher: sqlite3.Connection) -> None:
        try:
            if self._last_id is None:
                # Where the log stands; what changed before is unknown.
                (top,) = watcher.execute("SELECT max(id) FROM change_topics").fetchone()
                self._last_id = top or 0
                self.touch_all()
                return
            rows = watcher.execute(
                "SELECT id, topic FROM change_topics WHERE id > ? ORDER BY id", (self._last_id,)
            ).fetchall()
            # Read after the rows: rows pruned meanwhile show as a gap, never as none missed.
            (lowest,) = watcher.execute("SELECT min(id) FROM change_topics").fetchone()
        except sqlite3.Error:  # not migrated yet, say: then every topic changed
            self._last_id = None
            self.touch_all()
            return
        missed = lowest is not None and lowest > self._last_id + 1
        if rows:
            self._last_id = rows[-1][0]
        if missed:
            self.touch_all()
        elif rows:
            self.touch(topic for _, topic in rows)
        if lowest is not None and self._last_id - lowest > self.MAX_TOPICS:
            self._prune(watcher, self._last_id - self.KEEP_TOPICS)

    @staticmethod
    def _prune(watcher: sqlite3.Connection, below: int) -> None:
        try:
            with watcher:
                watcher.execute("DELETE FROM change_topics WHERE id <= ?", (below,))
        except sqlite3.OperationalError:  # the database is locked: next time
            pass


class PostgreSQLChangeFeed(ChangeFeed):
    """Follows ``NOTIFY`` on ``CHANNEL`` from a thread with a connection of its own."""

    # How often the thread checks that its connection works when no notice comes.
    CHECK_SECONDS = 5.0
    # How long it waits for notices before it looks whether it should stop.
    WAIT_SECONDS = 0.2
    RETRY_SECONDS = 1.0

    def __init__(self, conninfo: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._conninfo = conninfo
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._start_lock = threading.Lock()
        self.connected = threading.Event()
        self.connections = 0  # how often the thread connected, for operators and tests

    def start(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                return
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._follow, name="ostiary-change-feed", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        with self._start_lock:
            thread, self._thread = self._thread, None
        self._stopping.set()
        if thread is not None:
            thread.join(timeout=self.WAIT_SECONDS + 5)
        super().stop()

    def _follow(self) -> None:
        import psycopg

        while not self._stopping.is_set():
            try:
                with psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    application_name="ostiary change feed",
                    keepalives=1,
                    keepalives_idle=10,
                    keepalives_interval=5,
                    keepalives_count=3,
                ) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    # Notices from now on arrive; what changed before is unknown.
                    self._set_live(True)
                    self.connections += 1
                    self.connected.set()
                    checked = time.monotonic()
                    while not self._stopping.is_set():
                        for notice in connection.notifies(timeout=self.WAIT_SECONDS):
                            self.touch(notice.payload.split(","))
                        if time.monotonic() - checked > self.CHECK_SECONDS:
                            connection.execute("SELECT 1")
                            checked = time.monotonic()
            except Exception as exc:  # a lost connection, a server restart
                if not self._stopping.is_set():
                    log.warning("change feed lost its connection: %s", exc)
            finally:
                self.connected.clear()
                self._set_live(False)
            self._stopping.wait(self.RETRY_SECONDS)


def feed_for(engine: Engine) -> ChangeFeed:
    """The change feed that suits ``engine``'s database, attached to it."""
    url = engine.url
    feed: ChangeFeed
    if url.get_backend_name() == "postgresql":
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        feed = PostgreSQLChangeFeed(conninfo)
    elif url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        feed = SQLiteChangeFeed(url.database)
    else:
        feed = NoChangeFeed()
    feed.attach(engine)
    return feed
