"""Delegated administration: where a caller may use a right of the ``ostiary`` module.

A caller holds a right in a context when their effective ostiary rights there grant it and the
context's ``API IP Allow`` admits their address; they may then use it in that context's subtree.
Objects outside every such subtree are answered as absent, and the attempt is audited.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ostiary.access import epochs
from ostiary.access.cache import RightsCache
from ostiary.access.catalogue import OSTIARY_MODULE, Right
from ostiary.access.evaluation import EffectiveRights
from ostiary.access.subjects import ContextRef, RightsHolder, RightsPlace, contexts_of
from ostiary.access.values import address_allowed
from ostiary.audit.actor import Actor
from ostiary.db.session import OstiarySession
from ostiary.errors import Forbidden, NotFound, Refusal
from ostiary.text import Text

OUT_OF_REACH = "access.out_of_reach"
# A standing is kept per user and the external role names of their login.
_Key = tuple[uuid.UUID, frozenset[str]]
_NO_ROLES: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AdminScope:
    actor: Actor
    right: str
    # Paths of the contexts whose subtrees the right reaches, without nested duplicates.
    paths: tuple[str, ...]
    root_path: str | None
    # The external role names of the caller's login: what they hold, and so may grant, is
    # computed with them.
    external_roles: frozenset[str] = frozenset()

    @property
    def unrestricted(self) -> bool:
        return self.root_path is not None and self.root_path in self.paths

    @property
    def visible_paths(self) -> Sequence[str] | None:
        """For queries: None when everything is in reach."""
        return None if self.unrestricted else self.paths

    def covers(self, context: RightsPlace) -> bool:
        return any(context.path.startswith(path) for path in self.paths)

    def covers_user(self, memberships: Sequence[RightsPlace]) -> bool:
        """A user is in reach through any of their contexts; one with none only from the root."""
        if not memberships:
            return self.unrestricted
        return any(self.covers(context) for context in memberships)

    def refuse(self, what: str, target_id: uuid.UUID, context_id: uuid.UUID | None) -> NotFound:
        """The answer for an object that exists but lies outside the caller's reach."""
        return NotFound(
            Text("no {what} with id '{value}'", what=what, value=target_id),
            refusal=Refusal(
                self.actor,
                OUT_OF_REACH,
                what,
                str(target_id),
                context_id,
                f"outside the reach of the caller's '{self.right}' right",
            ),
        )

    def require(self, context: RightsPlace, *, what: str = "context") -> None:
        if not self.covers(context):
            raise self.refuse(what, context.id, context.id)

    def require_root(self, what: str) -> None:
        if not self.unrestricted:
            raise Forbidden(
                Text("{what} needs the '{right}' right at the root", what=what, right=self.right)
            )


@dataclass(frozen=True)
class Standing:
    """A user's ``ostiary`` rights in each context they belong to (contexts in tree order)."""

    places: tuple[tuple[ContextRef, EffectiveRights], ...]
    external_roles: frozenset[str] = frozenset()

    def scope(self, right: str, actor: Actor, *, api_call: bool = True) -> AdminScope:
        """Where ``right`` reaches. An API call also needs the address admitted by the
        ``API IP Allow`` of the context the right comes from (unset: no API access); the
        pages people use in a browser do not (document 003: it governs API calls)."""
        paths: list[str] = []
        root_path: str | None = None
        for context, rights in self.places:
            if context.parent_id is None:
                root_path = context.path
            if any(context.path.startswith(path) for path in paths):
                continue
            if not rights.allows(right):
                continue
            if not api_call or address_allowed(
                rights.text(Right.API_IP_ALLOW), actor.client_address
            ):
                paths.append(context.path)
        return AdminScope(actor, right, tuple(paths), root_path, self.external_roles)


class Standings:
    """Per process, like ``RightsCache``: a user's standing until a change that affects it.

    An entry is valid while the counters of the global scope, the user and each of their
    contexts are as they were; a membership change moves the user's, so one statement checks
    it. The counters are read before the rights are computed, so that a change racing with
    the computation makes the entry stale rather than wrong. A login with external role names
    (step e1) has a standing of its own: entries are per user and set of role names.
    """

    def __init__(self, rights: RightsCache, *, max_entries: int = 10_000) -> None:
        self.rights = rights
        self.max_entries = max_entries
        self._entries: OrderedDict[_Key, tuple[tuple[str, ...], tuple[int, ...], Standing]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def of(
        self, session: OstiarySession, user: RightsHolder, external_roles: Iterable[str] = ()
    ) -> Standing:
        return self.cached(session, user, external_roles) or self.compute(
            session, user, external_roles
        )

    def cached(
        self, session: OstiarySession, user: RightsHolder, external_roles: Iterable[str] = ()
    ) -> Standing | None:
        """The cached standing if it is still valid (one statement), else None."""
        key = (user.id, frozenset(external_roles))
        with self._lock:
            cached = self._entries.get(key)
        if cached is None:
            return None
        scopes, seen, standing = cached
        if epochs.read_scopes(session, scopes) != seen:
            return None
        with self._lock:
            self._entries.move_to_end(key)
        return standing

    def watched(self, user_id: uuid.UUID) -> tuple[str, ...]:
        """The counters that the cached standing of ``user_id`` (without external roles)
        depends on; none if there is no such entry. For callers that read them together with
        something else."""
        with self._lock:
            cached = self._entries.get((user_id, _NO_ROLES))
        return () if cached is None else cached[0]

    def current(
        self, user: RightsHolder, scopes: tuple[str, ...], counters: tuple[int, ...]
    ) -> Standing | None:
        """The cached standing without external roles if it depends on ``scopes`` and they
        stood at ``counters`` when the caller read them (see ``watched``), else None."""
        key = (user.id, _NO_ROLES)
        with self._lock:
            cached = self._entries.get(key)
            if cached is None or cached[0] != scopes or cached[1] != counters:
                return None
            self._entries.move_to_end(key)
            return cached[2]

    def compute(
        self, session: OstiarySession, user: RightsHolder, external_roles: Iterable[str] = ()
    ) -> Standing:
        """Compute the standing afresh (a statement per context at least) and cache it."""
        roles = frozenset(external_roles)
        contexts = contexts_of(session.core(), user.id)
        scopes = (epochs.GLOBAL, epochs.user_scope(user.id)) + tuple(
            epochs.context_scope(c.id) for c in contexts
        )
        seen = epochs.read_scopes(session, scopes)
        standing = Standing(
            tuple(
                (c, self.rights.effective(session, user, c, OSTIARY_MODULE, external_roles=roles))
                for c in contexts
            ),
            roles,
        )
        key = (user.id, roles)
        with self._lock:
            self._entries[key] = (scopes, seen, standing)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return standing

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class AdminAuthorizer:
    def __init__(self, session: OstiarySession, standings: Standings) -> None:
        self.session = session
        self.standings = standings

    def scope(self, user: RightsHolder, right: str, actor: Actor) -> AdminScope:
        return self.standings.of(self.session, user).scope(right, actor)

    def require(self, user: RightsHolder, right: str, actor: Actor) -> AdminScope:
        """The caller's scope for ``right``; refused when it reaches nowhere."""
        return require(self.scope(user, right, actor))

    def memberships_of(self, user: RightsHolder) -> Sequence[ContextRef]:
        """The user's contexts in tree order."""
        return contexts_of(self.session.core(), user.id)


def require(scope: AdminScope) -> AdminScope:
    """``scope`` when it reaches somewhere; refused otherwise."""
    if not scope.paths:
        raise Forbidden(
            Text(
                "this needs the '{right}' right of the {ostiary_module} module, granted in a context and allowed from this address",
                right=scope.right,
                ostiary_module=OSTIARY_MODULE,
            )
        )
    return scope
