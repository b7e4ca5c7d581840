"""Builders shared by the message tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from ostiary.audit.actor import Actor
from ostiary.contexts.models import Context, ContextType
from ostiary.contexts.schemas import ContextCreate
from ostiary.contexts.services import ContextService
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.runtime import Runtime
from ostiary.users.models import User
from ostiary.users.schemas import UserCreate
from ostiary.users.services import UserService

CODE = {"code": "482913", "minutes": 5}


def make_context(
    session: OstiarySession, name: str, type_: ContextType, parent: Context | None = None
) -> Context:
    contexts = ContextService(session, Actor.system())
    parent = parent or contexts.root()
    assert parent is not None
    return contexts.create(ContextCreate(type=type_, name=name, parent_id=parent.id))


def make_user(runtime: Runtime, session: OstiarySession, username: str, **fields: Any) -> User:
    data = UserCreate(
        username=username,
        domain="CSP",
        email=fields.pop("email", f"{username}@example.com"),
        **fields,
    )
    return UserService(session, Actor.system(), runtime.passwords).create(data)


class Clock:
    """A clock the test moves: starts now, advances by hand."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def sequence(values: list[Any]) -> Iterator[Any]:
    yield from values
