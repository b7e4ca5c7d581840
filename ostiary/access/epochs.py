"""Invalidation of cached effective rights, across worker processes and nodes.

Changes that can alter effective rights raise a counter in the same transaction. Which counter
follows from what changed: group rights and policies belong to a context, memberships and group
memberships to a user, modules and ACLs to everyone, a context's status (suspension) to each
context of its subtree. The session hook below finds them in the flush, so no service has to
remember to do it; bulk UPDATE and DELETE statements on those tables raise the global counter,
since their rows are not known.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Sequence

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
from ostiary.db import changes
from ostiary.db.paths import prefix_range
from ostiary.db.session import OstiarySession
from ostiary.users.models import Membership, User, UserDomain

GLOBAL = "global"
# A user's columns that cached rights and credentials depend on: a change raises the user's
# counter (the password and the service-account flag for ``ostiary.authn.basic``).
USER_WATCHED = ("domain_id", "status", "username", "password_hash", "service_account")
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
    changes.pending(connection, names)


_READ = select(RightsEpoch.scope, RightsEpoch.epoch).where(
    RightsEpoch.scope.in_(bindparam("scopes", expanding=True))
)


def read_scopes(session: Session, scopes: Sequence[str]) -> tuple[int, ...]:
    """The current counters of ``scopes``, in their order (0 for one never raised); from the
    session's mirror when it holds them (see ``EpochMirror``)."""
    mirror = session.mirror if isinstance(session, OstiarySession) else None
    if mirror is not None and not (session.new or session.dirty or session.deleted):
        return mirror.read(session.connection, scopes)
    session.flush()  # counters move in the flush; pending changes must have moved them
    return _read_from(session.connection(), scopes)


def _read_from(connection: Connection, scopes: Sequence[str]) -> tuple[int, ...]:
    rows = connection.execute(_READ, {"scopes": list(scopes)})
    found = {scope: epoch for scope, epoch in rows}
    return tuple(found.get(scope, 0) for scope in scopes)


class EpochMirror:
    """The counters as this process last read them, kept while the change feed vouches for
    them: a warm read of counters costs no statement.

    Sessions use it only while their transaction has written nothing (``OstiarySession.mirror``):
    a transaction's own uncommitted raises are not in the mirror.
    """

    def __init__(self, feed: changes.ChangeFeed, *, max_entries: int = 200_000) -> None:
        self.feed = feed
        self._max = max_entries
        self._known: dict[str, tuple[int, int]] = {}  # scope -> (counter, stamp)
        self._lock = threading.Lock()

    def known(self, scopes: Sequence[str]) -> tuple[int, ...] | None:
        """The counters of ``scopes`` if all are known and unchanged, else None."""
        entries: list[tuple[int, int]] = []
        with self._lock:
            for scope in scopes:
                entry = self._known.get(scope)
                if entry is None:
                    return None
                entries.append(entry)
        stamps = [(scope, stamp) for scope, (_, stamp) in zip(scopes, entries, strict=True)]
        if not self.feed.unchanged(stamps):
            return None
        return tuple(counter for counter, _ in entries)

    def read(self, connection: Callable[[], Connection], scopes: Sequence[str]) -> tuple[int, ...]:
        """The counters of ``scopes``: known, or read on ``connection()`` and kept."""
        known = self.known(scopes)
        if known is not None:
            return known
        db = connection()
        counters = _read_from(db, scopes)
        self.keep(self.feed.stamp_of(db), scopes, counters)
        return counters

    def keep(self, stamp: int | None, scopes: Sequence[str], counters: Sequence[int]) -> None:
        """Keep counters read in a transaction stamped ``stamp`` (none: not kept)."""
        if stamp is None:
            self.feed.follow()  # so that the next transaction's reading can be kept
            return
        with self._lock:
            if len(self._known) + len(scopes) > self._max:
                self._known.clear()
            for scope, counter in zip(scopes, counters, strict=True):
                self._known[scope] = (counter, stamp)


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
        return _attribute_changed(obj, USER_WATCHED)
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
