"""Who rights are computed for, and where: what evaluation needs of a user and a context.

ORM ``User`` and ``Context`` objects satisfy these protocols; the frozen refs below satisfy
them too and are read with one Core statement each. Hot paths (authorization checks, the API
caller's standing) use the refs: an ORM load costs several times the query it runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, bindparam, select

from ostiary.contexts.models import Context
from ostiary.users.models import DomainKind, Membership, User, UserDomain


class RightsHolder(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def delegated(self) -> bool: ...


class RightsPlace(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def parent_id(self) -> uuid.UUID | None: ...

    @property
    def path(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def has_access_policy(self) -> bool: ...


@dataclass(frozen=True)
class UserRef:
    id: uuid.UUID
    username: str
    status: str
    delegated: bool


@dataclass(frozen=True)
class ContextRef:
    id: uuid.UUID
    parent_id: uuid.UUID | None
    path: str
    type: str
    has_access_policy: bool


_USER_COLUMNS = select(User.id, User.username, User.status, UserDomain.kind).join(
    UserDomain, UserDomain.id == User.domain_id
)
_USER_BY_ID = _USER_COLUMNS.where(User.id == bindparam("id"))
_USER_BY_USERNAME = _USER_COLUMNS.where(User.username == bindparam("username"))
_CONTEXT_COLUMNS = select(
    Context.id, Context.parent_id, Context.path, Context.type, Context.has_access_policy
)
_CONTEXT_BY_ID = _CONTEXT_COLUMNS.where(Context.id == bindparam("id"))
_CONTEXT_BY_KEY = _CONTEXT_COLUMNS.where(Context.key == bindparam("key"))


def _as_uuid(ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


def find_user(connection: Connection, ref: str) -> UserRef | None:
    """A user by id or username."""
    ident = _as_uuid(ref)
    row = None
    if ident is not None:
        row = connection.execute(_USER_BY_ID, {"id": ident}).one_or_none()
    if row is None:
        row = connection.execute(_USER_BY_USERNAME, {"username": ref.strip().lower()}).one_or_none()
    if row is None:
        return None
    return UserRef(row.id, row.username, row.status, row.kind == DomainKind.DELEGATED)


def find_context(connection: Connection, ref: str) -> ContextRef | None:
    """A context by id or key."""
    ident = _as_uuid(ref)
    row = None
    if ident is not None:
        row = connection.execute(_CONTEXT_BY_ID, {"id": ident}).one_or_none()
    if row is None:
        row = connection.execute(_CONTEXT_BY_KEY, {"key": ref}).one_or_none()
    return None if row is None else ContextRef(*row)


_CONTEXTS_OF_USER = (
    _CONTEXT_COLUMNS.join(Membership, Membership.context_id == Context.id)
    .where(Membership.user_id == bindparam("user_id"))
    .order_by(Context.path)
)


def contexts_of(connection: Connection, user_id: uuid.UUID) -> list[ContextRef]:
    """The contexts a user belongs to, in tree order."""
    return [ContextRef(*row) for row in connection.execute(_CONTEXTS_OF_USER, {"user_id": user_id})]
