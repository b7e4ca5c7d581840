"""Two requests racing for the same username or e-mail: one wins, the other gets a 409."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.errors import AlreadyExists, OstiaryError
from ostiary.runtime import Runtime
from ostiary.users.models import User
from ostiary.users.schemas import UserCreate
from ostiary.users.services import UserService

RACERS = 8


def _race(runtime: Runtime, make: list[UserCreate]) -> list[object]:
    barrier = threading.Barrier(len(make))

    def attempt(data: UserCreate) -> object:
        with runtime.sessions() as session:
            service = UserService(session, Actor("racer", "api"), runtime.passwords)
            barrier.wait()
            try:
                return service.create(data).id
            except OstiaryError as exc:
                return exc

    with ThreadPoolExecutor(len(make)) as pool:
        return list(pool.map(attempt, make))


def _count(runtime: Runtime, *where: object) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(User).where(*where)) or 0)  # type: ignore[arg-type]


def test_same_username_race_has_one_winner(runtime: Runtime) -> None:
    results = _race(runtime, [UserCreate(username="racer", domain="CSP") for _ in range(RACERS)])
    losers = [r for r in results if isinstance(r, OstiaryError)]
    assert len(losers) == RACERS - 1
    assert all(isinstance(r, AlreadyExists) and r.field == "username" for r in losers)
    assert _count(runtime, User.username == "racer") == 1
    with runtime.sessions() as session:
        created = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "user.created", AuditEvent.actor == "racer")
        )
    assert created == 1


def test_same_email_race_has_one_winner(runtime: Runtime) -> None:
    results = _race(
        runtime,
        [
            UserCreate(username=f"mail{i}", domain="CSP", email="Same@Example.com")
            for i in range(RACERS)
        ],
    )
    losers = [r for r in results if isinstance(r, OstiaryError)]
    assert len(losers) == RACERS - 1
    assert all(isinstance(r, AlreadyExists) and r.field == "email" for r in losers)
    assert _count(runtime, User.email_key == "same@example.com") == 1
