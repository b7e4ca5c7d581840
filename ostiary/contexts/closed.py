"""The one rule of suspension that effective rights, tokens and the login all ask: a context
is closed to its users when it, or a context above it, is suspended."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, bindparam, literal, select

from ostiary.contexts.models import Context, ContextStatus


class Placed(Protocol):
    @property
    def path(self) -> str: ...


Place = TypeVar("Place", bound=Placed)

_TABLE: Any = Context.__table__
_PATH = select(_TABLE.c.path).where(_TABLE.c.id == bindparam("id"))
# Whether a context on a path is suspended; binds ``ancestor_ids`` (``ancestors(path)``), so
# that statements asking more (the effective rights' step e2) can ask it along.
SUSPENDED_AMONG = (
    select(literal(1))
    .where(
        _TABLE.c.id.in_(bindparam("ancestor_ids", expanding=True)),
        _TABLE.c.status == ContextStatus.SUSPENDED,
    )
    .exists()
)
_ANY_SUSPENDED = select(SUSPENDED_AMONG)


def ancestors(path: str) -> list[uuid.UUID]:
    """The ids on ``path``: the context and every context above it."""
    return [uuid.UUID(part) for part in path.strip("/").split("/")]


def closed_path(connection: Connection, path: str) -> bool:
    """Whether the context at ``path``, or one above it, is suspended."""
    return bool(connection.execute(_ANY_SUSPENDED, {"ancestor_ids": ancestors(path)}).scalar())


def closed(connection: Connection, context_id: uuid.UUID) -> bool:
    """``closed_path`` by id; a context that no longer exists is closed too."""
    path = connection.execute(_PATH, {"id": context_id}).scalar()
    return path is None or closed_path(connection, path)


def open_only(connection: Connection, places: Sequence[Place]) -> list[Place]:
    """``places`` without the closed ones, in their order."""
    return [place for place in places if not closed_path(connection, place.path)]
