"""SQLite under several workers: writers queue for the lock, readers do not wait for them."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from ostiary.users.models import User


@pytest.fixture
def sqlite_runtime(runtime: Runtime) -> Runtime:
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("about SQLite's locking")
    return runtime


def _writer_holding_the_lock(runtime: Runtime) -> sqlite3.Connection:
    """Another process's connection in the middle of a write transaction."""
    other = sqlite3.connect(runtime.engine.url.database, isolation_level=None, timeout=10)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_reads_go_on_while_another_worker_writes(
    sqlite_runtime: Runtime, client: TestClient
) -> None:
    with sqlite_runtime.sessions() as session:
        admin_id = session.scalars(select(User.id).where(User.username == "admin")).one()
    other = _writer_holding_the_lock(sqlite_runtime)
    answers: list[int] = []
    reader = threading.Thread(
        target=lambda: answers.append(client.get(f"/api/v1/users/{admin_id}").status_code)
    )
    try:
        reader.start()
        # The busy timeout is 30 s; a read that waited for the writer would not be back yet.
        reader.join(timeout=10)
        assert answers == [200]
    finally:
        other.rollback()
        other.close()
        reader.join()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/authz/check",
            {
                "checks": [
                    {"user": "admin", "context": "root", "module": "ostiary", "right": "access"}
                ]
            },
        ),
        (
            "/access/v1/evaluation",
            {
                "subject": {"type": "user", "id": "admin"},
                "resource": {"type": "ostiary", "id": "root"},
                "action": {"name": "access"},
            },
        ),
    ],
)
def test_authorization_questions_do_not_wait_for_writers(
    sqlite_runtime: Runtime, client: TestClient, path: str, body: dict[str, object]
) -> None:
    # Asked by POST, but only reading: policy enforcement points must not queue behind a bulk
    # import's write transaction.
    other = _writer_holding_the_lock(sqlite_runtime)
    answers: list[int] = []
    asker = threading.Thread(
        target=lambda: answers.append(client.post(path, json=body).status_code)
    )
    try:
        asker.start()
        asker.join(timeout=10)
        assert answers == [200]
    finally:
        other.rollback()
        other.close()
        asker.join()


def test_writes_wait_for_the_lock_instead_of_failing(
    sqlite_runtime: Runtime, client: TestClient
) -> None:
    new_account = {"type": "account", "name": "Acme", "parent_id": _root_id(sqlite_runtime)}
    other = _writer_holding_the_lock(sqlite_runtime)
    answers: list[int] = []
    writer = threading.Thread(
        target=lambda: answers.append(client.post("/api/v1/contexts", json=new_account).status_code)
    )
    try:
        writer.start()
        writer.join(timeout=1)
        assert writer.is_alive() and answers == []  # queued behind the other writer
    finally:
        other.rollback()
        other.close()
    writer.join(timeout=30)
    assert answers == [201]


def _root_id(runtime: Runtime) -> str:
    from ostiary.contexts.models import Context

    with runtime.sessions() as session:
        return str(session.scalars(select(Context.id).where(Context.key == "root")).one())


def _in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    done: list[object] = []
    thread = threading.Thread(target=lambda: done.append(work()))
    thread.start()
    return thread, done


def _writes_of(runtime: Runtime) -> Callable[[], int]:
    def write() -> int:
        with runtime.sessions() as session, session.begin():
            return session.execute(text("UPDATE users SET last_name = 'Turn'")).rowcount

    return write


def test_writers_of_one_process_take_turns_and_each_gets_in(sqlite_runtime: Runtime) -> None:
    first = sqlite_runtime.sessions()
    first.begin()
    first.execute(text("UPDATE users SET first_name = 'First'"))
    second, done = _in_thread(_writes_of(sqlite_runtime))
    second.join(timeout=0.5)
    assert second.is_alive() and done == []  # waiting for the first writer's turn
    first.commit()
    first.close()
    second.join(timeout=10)
    assert done and done[0] >= 1
    with sqlite_runtime.sessions() as session:
        assert session.scalars(select(User.first_name).where(User.username == "admin")).one() == (
            "First"
        )


@pytest.mark.parametrize("ending", ["rollback", "failed commit", "invalidated", "closed"])
def test_a_writer_that_ends_without_committing_lets_the_next_one_in(
    sqlite_runtime: Runtime, ending: str
) -> None:
    session = sqlite_runtime.sessions()
    session.begin()
    if ending == "failed commit":
        # A foreign key checked at commit: the COMMIT itself fails.
        session.execute(text("PRAGMA defer_foreign_keys=ON"))
        session.execute(
            text("UPDATE users SET domain_id = :missing"), {"missing": uuid.uuid4().hex}
        )
    else:
        session.execute(text("UPDATE users SET first_name = 'Never'"))
    if ending == "rollback":
        session.rollback()
    elif ending == "failed commit":
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
    elif ending == "invalidated":
        session.invalidate()
    session.close()
    writer, done = _in_thread(_writes_of(sqlite_runtime))
    writer.join(timeout=10)
    assert not writer.is_alive() and done and done[0] >= 1
    with sqlite_runtime.sessions() as check:
        names = check.scalars(select(User.first_name)).all()
    assert "Never" not in names
