"""Invalidation of cached effective rights, across worker processes and nodes.

Changes that can alter effective rights raise a counter in the same transaction. Which counter
follows from what changed: group rights and policies belong to a context, memberships and group
memberships to a user, modules and ACLs to everyone, a context's status (suspension) to each
context of its subtree. The session hook below finds them in the flush, so no service has to
remember to do it; bulk UPDATE and DELETE statements on those tables raise the global counter,
since their rows are not known.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Delete, Update, bindparam, event, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from ostiary.access.models import (
    Acl,
    GroupMember,
    GroupRight,
    Module,
    PolicyRight,
    RightsEpoch,
    UserGroup,
    UserRight,
)
from ostiary.contexts.models import Context
from ostiary.db.paths import prefix_range
from ostiary.users.models import Membership, User, UserDomain

GLOBAL = "global"
TRACKED_TABLES = frozenset(
    model.__tablename__  # type: ignore[attr-defined]
    for model in (
        Acl,
        Module,
        UserGroup,
        GroupRight,
        GroupMember,
        PolicyRight,
        UserRight,
        Membership,
        Context,
    )
)


def context_scope(context_id: uuid.UUID) -> str:
    return f"context:{context_id.hex}"


def user_scope(user_id: uuid.UUID) -> str:
    return f"user:{user_id.hex}"


def scopes_of(session: Session, obj: object) -> set[str]:
    """The counters a new, changed or deleted object moves."""
    if isinstance(obj, Membership | UserRight):
        return {user_scope(obj.user_id)}
    if isinstance(obj, GroupMember):
        return {user_scope(obj.user_id)}
    if isinstance(obj, UserGroup | PolicyRight):
        return {context_scope(obj.context_id)}
    if isinstance(obj, GroupRight):
        if obj.group_id is None:  # added through its group, which is in the same flush
            return set()
        group = session.get(UserGroup, obj.group_id)
        return {context_scope(group.context_id)} if group is not None else {GLOBAL}
    if isinstance(obj, Acl | Module | UserDomain):
        # A domain's kind decides whether its users are delegated (step e1, read-only).
        return {GLOBAL}
    if isinstance(obj, Context):
        # A move changes which subtrees administrators reach.
        return {GLOBAL}
    if isinstance(obj, User):
        return {user_scope(obj.id)}
    return set()


def subtree_scopes(session: Session, path: str) -> set[str]:
    """The counters of every context in the subtree at ``path``: what a suspension closes."""
    rows = session.connection().execute(select(Context.id).where(prefix_range(Context.path, path)))
    return {context_scope(context_id) for (context_id,) in rows}


def bump(session: Session, scopes: Iterable[str]) -> None:
    # On the connection, not the session: this runs inside a flush.
    bump_on(session.connection(), scopes)


def bump_on(connection: Connection, scopes: Iterable[str]) -> None:
    """Raise the counters of ``scopes`` in one statement (also for bulk writes in Core)."""
    names = sorted(set(scopes))
    if not names:
        return
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(RightsEpoch).on_conflict_do_update(
        index_elements=[RightsEpoch.scope], set_={"epoch": RightsEpoch.epoch + 1}
    )
    connection.execute(stmt, [{"scope": scope, "epoch": 1} for scope in names])


_READ = select(RightsEpoch.scope, RightsEpoch.epoch).where(
    RightsEpoch.scope.in_(bindparam("scopes", expanding=True))
)


def read_scopes(session: Session, scopes: Sequence[str]) -> tuple[int, ...]:
    """The current counters of ``scopes``, in their order (0 for one never raised)."""
    session.flush()  # counters move in the flush; pending changes must have moved them
    rows = session.connection().execute(_READ, {"scopes": list(scopes)})
    found = {scope: epoch for scope, epoch in rows}
    return tuple(found.get(scope, 0) for scope in scopes)


def read(session: Session, user_id: uuid.UUID, context_id: uuid.UUID) -> tuple[int, int, int]:
    """The counters that cached rights of ``user_id`` in ``context_id`` depend on."""
    global_, context, user = read_scopes(
        session, (GLOBAL, context_scope(context_id), user_scope(user_id))
    )
    return (global_, context, user)


def _changed(obj: object, session: Session) -> bool:
    if isinstance(obj, Context):
        # The key too: authorization questions name contexts by it (``decisions.Subject``).
        return _attribute_changed(obj, ("path", "has_access_policy", "type", "key"))
    if isinstance(obj, User):
        return _attribute_changed(obj, ("domain_id", "status", "username"))
    if isinstance(obj, UserDomain):
        return _attribute_changed(obj, ("kind",))
    return True


def _attribute_changed(obj: object, names: tuple[str, ...]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    scopes: set[str] = set()
    with session.no_autoflush:
        scopes = _scopes_in_flush(session)
    bump(session, scopes)


def _scopes_in_flush(session: Session) -> set[str]:
    scopes: set[str] = set()
    for obj in session.dirty:
        if _changed(obj, session):
            scopes |= scopes_of(session, obj)
        if isinstance(obj, Context) and _attribute_changed(obj, ("status",)):
            scopes |= subtree_scopes(session, obj.path)
    for obj in list(session.new) + list(session.deleted):
        if not isinstance(obj, Context | User):
            scopes |= scopes_of(session, obj)
    return scopes


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk(state: ORMExecuteState) -> None:
    statement = state.statement
    if isinstance(statement, Update | Delete) and statement.table.name in TRACKED_TABLES:  # type: ignore[union-attr]
        bump(state.session, [GLOBAL])
