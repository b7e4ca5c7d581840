"""The change feed: what one worker process commits, the caches of another learn."""

from __future__ import annotations

import contextlib
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select, text
from starlette.testclient import TestClient

from ostiary.db.changes import PostgreSQLChangeFeed, SQLiteChangeFeed
from ostiary.db.session import OstiarySession
from ostiary.runtime import Runtime
from ostiary.users.models import User
from tests.access.test_admin import counted
from tests.api import test_authz
from tests.api.test_authz import check
from tests.api.test_groups import groups_url
from tests.apps import app_for
from tests.conftest import ADMIN_PASSWORD, LOCAL_CLIENT

# The fixture of the authorization checks.
world = test_authz.world

ASKED = {"user": "alice", "context": "acme", "module": "ep", "right": "sim.read"}


def following(runtime: Runtime) -> None:
    """Start the runtime's feed and wait until it hears changes."""
    runtime.changes.follow()
    if isinstance(runtime.changes, PostgreSQLChangeFeed):
        assert runtime.changes.connected.wait(10), "the change feed did not connect"


def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def other(runtime: Runtime) -> Iterator[TestClient]:
    """A second worker process, as far as caches go: its own runtime on the same database."""
    second = Runtime.from_settings(runtime.settings)
    try:
        with TestClient(app_for(second), client=LOCAL_CLIENT) as test_client:
            test_client.auth = ("admin", ADMIN_PASSWORD)
            test_client.app_state = second  # type: ignore[attr-defined]
            yield test_client
    finally:
        second.close()


def warm(client: TestClient, runtime: Runtime) -> None:
    """Ask until the answer comes from the caches alone (the feed vouching for them)."""
    following(runtime)

    def reads_nothing() -> bool:
        with counted(runtime) as statements:
            assert check(client, ASKED)[0]["allowed"] is True
        return not statements

    assert eventually(reads_nothing), "a warm check still reads the database"


def test_a_change_in_one_worker_reaches_the_warm_checks_of_another(
    client: TestClient, other: TestClient, world: dict[str, Any]
) -> None:
    second: Runtime = other.app_state  # type: ignore[attr-defined]
    warm(other, second)

    # The first worker takes sim.read from alice's group.
    group = client.get(groups_url(world["acme"])).json()[0]
    rights = group["rights"]
    rights["ep"]["sim.read"] = False
    url = f"{groups_url(world['acme'])}/{group['id']}/rights"
    assert client.put(url, json={"rights": rights}).is_success
    assert eventually(lambda: check(other, ASKED)[0]["allowed"] is False)


def test_a_new_password_set_in_one_worker_locks_the_old_one_out_of_another(
    client: TestClient, other: TestClient, world: dict[str, Any]
) -> None:
    second: Runtime = other.app_state  # type: ignore[attr-defined]
    warm(other, second)
    admin = client.get("/api/v1/users", params={"q": "admin"}).json()["items"][0]
    changed = client.put(
        f"/api/v1/users/{admin['id']}/password", json={"password": "a quite different secret"}
    )
    assert changed.is_success, changed.text

    def refused() -> bool:
        answer = other.post("/api/v1/authz/check", json={"checks": [ASKED]})
        return answer.status_code == 401

    assert eventually(refused)


def test_a_status_changed_by_hand_in_the_database_is_seen(
    runtime: Runtime, other: TestClient, world: dict[str, Any]
) -> None:
    """Not only the services' writes: triggers (PostgreSQL) or the file's version (SQLite)
    tell of any change."""
    second: Runtime = other.app_state  # type: ignore[attr-defined]
    warm(other, second)
    with runtime.engine.begin() as connection:
        connection.execute(text("UPDATE users SET status = 'inactive' WHERE username = 'admin'"))

    def refused() -> bool:
        answer = other.post("/api/v1/authz/check", json={"checks": [ASKED]})
        return answer.status_code == 401

    assert eventually(refused)


def test_without_the_feed_a_check_reads_what_it_depends_on(
    client: TestClient, runtime: Runtime, world: dict[str, Any]
) -> None:
    warm(client, runtime)
    runtime.changes.stop()
    with counted(runtime) as statements:
        assert check(client, ASKED)[0]["allowed"] is True
    # The caller's credentials with the counters of their standing; the question's counters.
    assert len(statements) == 2, statements


def test_a_writing_transaction_uses_kept_values_until_it_changes_what_they_come_from(
    client: TestClient, runtime: Runtime
) -> None:
    body = {"client_id": "kept", "name": "Kept", "module": "ostiary", "scopes": ["admin"]}
    assert client.post("/api/v1/clients", json=body | {"grant_types": ["client_credentials"]})
    following(runtime)
    directory = runtime.clients

    def find_reads(session: OstiarySession) -> tuple[bool | None, int]:
        with counted(runtime) as statements:
            found = directory.find(session, "kept")
        return (found.enabled if found else None), len(statements)

    with runtime.read_sessions() as session:
        assert directory.find(session, "kept") is not None  # kept from here on
    with runtime.sessions() as session:
        assert eventually(lambda: find_reads(session) == (True, 0))
        # Writing elsewhere leaves the kept client usable.
        session.execute(text("DELETE FROM login_flows"))
        assert find_reads(session) == (True, 0)
        # Its own change to the clients table: read from the database, and not kept.
        session.execute(text("UPDATE clients SET enabled = false WHERE client_id = 'kept'"))
        enabled, statements = find_reads(session)
        assert enabled is False and statements > 0
        session.rollback()
    with runtime.read_sessions() as session:
        found = directory.find(session, "kept")
        assert found is not None and found.enabled, "the rolled-back change was not kept"


def test_the_sqlite_feed_hears_what_other_connections_changed(runtime: Runtime) -> None:
    feed = runtime.changes
    if not isinstance(feed, SQLiteChangeFeed):
        pytest.skip("the SQLite feed")
    following(runtime)
    stamp = feed.stamp()
    assert stamp is not None
    with runtime.sessions() as session:
        admin = session.scalars(select(User).where(User.username == "admin")).one()
    mine, other = f"user:{admin.id.hex}", f"user:{uuid.uuid4().hex}"
    assert feed.unchanged([(mine, stamp), (other, stamp)])

    # Another process, as far as SQLite can tell: a connection of its own, by hand.
    with contextlib.closing(sqlite3.connect(runtime.engine.url.database or "")) as connection:
        with connection:
            connection.execute("UPDATE users SET first_name = 'A' WHERE username = 'admin'")
            connection.execute("INSERT INTO rights_epochs (scope, epoch) VALUES ('probe', 1)")
        assert eventually(lambda: not feed.unchanged([("probe", stamp)]))
        assert feed.unchanged([(mine, stamp)]), "a column that no cache depends on"
        with connection:
            connection.execute("UPDATE users SET status = 'inactive' WHERE username = 'admin'")
        assert eventually(lambda: not feed.unchanged([(mine, stamp)]))
        assert feed.unchanged([(other, stamp)])

        # Topics pruned before this process read them: everything counts as changed.
        again = feed.stamp()
        assert again is not None
        with connection:
            connection.execute("UPDATE users SET status = 'active' WHERE username = 'admin'")
            connection.execute("DELETE FROM change_topics")
            connection.execute("UPDATE users SET status = 'inactive' WHERE username = 'admin'")
        assert eventually(lambda: not feed.unchanged([(other, again)]))


def test_the_sqlite_feed_keeps_the_log_short(runtime: Runtime) -> None:
    feed = runtime.changes
    if not isinstance(feed, SQLiteChangeFeed):
        pytest.skip("the SQLite feed")
    feed.MAX_TOPICS, feed.KEEP_TOPICS = 10, 3  # type: ignore[misc]
    following(runtime)
    stamp = feed.stamp()
    assert stamp is not None
    with runtime.engine.begin() as connection:
        for n in range(30):
            connection.execute(text(f"INSERT INTO rights_epochs (scope, epoch) VALUES ('s{n}', 1)"))
    assert not feed.unchanged([("s29", stamp)])
    with runtime.engine.connect() as connection:
        left = connection.execute(text("SELECT count(*) FROM change_topics")).scalar_one()
    assert left == 3


def test_the_postgresql_feed_comes_back_after_losing_its_connection(runtime: Runtime) -> None:
    feed = runtime.changes
    if not isinstance(feed, PostgreSQLChangeFeed):
        pytest.skip("the PostgreSQL feed")
    feed.RETRY_SECONDS = 0.05  # type: ignore[misc]
    following(runtime)
    stamp = feed.stamp()
    assert stamp is not None
    with runtime.engine.begin() as connection:
        connection.execute(text("SELECT pg_notify('ostiary_changes', 'user:x')"))
    assert eventually(lambda: not feed.unchanged([("user:x", stamp)]))
    assert feed.unchanged([("user:y", stamp)])

    with runtime.engine.begin() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'ostiary change feed' AND datname = current_database()"
            )
        )
    # Connected again, what was read before counts as changed: notices may have been lost.
    assert eventually(lambda: feed.connections == 2 and feed.connected.is_set())
    assert not feed.unchanged([("user:y", stamp)])
    again = feed.stamp()
    assert again is not None and feed.unchanged([("user:y", again)])
