"""What the rows of a file name, read once per import: domains, contexts, their groups."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select

from ostiary.access.admin import AdminScope
from ostiary.access.guard import GrantGuard
from ostiary.access.models import UserGroup
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.errors import Forbidden, Refusal
from ostiary.users.models import UserDomain

DEFAULT_DOMAIN = "ENTERPRISE"
_IN_CHUNK = 500


def chunks(values: list[str], size: int = _IN_CHUNK) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass(frozen=True)
class DomainRef:
    id: uuid.UUID
    name: str
    kind: str
    context_types: frozenset[str]


class References:
    """Contexts outside the caller's reach are not found, exactly like contexts that do not
    exist; a group the caller could not grant is refused once, by the grant guard."""

    def __init__(
        self,
        session: OstiarySession,
        names: Iterable[str],
        *,
        scope: AdminScope | None,
        guard: GrantGuard | None,
    ) -> None:
        self.session = session
        self.scope = scope
        self.guard = guard
        self.domains = {
            d.name: DomainRef(d.id, d.name, d.kind, frozenset(d.context_types))
            for d in session.scalars(select(UserDomain))
        }
        self.domains_by_id = {d.id: d for d in self.domains.values()}
        self._contexts = self._load_contexts(sorted(set(names)))
        self.contexts_by_id = {c.id: c for c in self._contexts.values()}
        self.groups: dict[tuple[uuid.UUID, str], UserGroup] = {}
        context_ids = list(self.contexts_by_id)
        for start in range(0, len(context_ids), _IN_CHUNK):
            ids = context_ids[start : start + _IN_CHUNK]
            for group in session.scalars(select(UserGroup).where(UserGroup.context_id.in_(ids))):
                self.groups[(group.context_id, group.name)] = group
        self.groups_by_id = {group.id: group for group in self.groups.values()}
        self._grantable: dict[uuid.UUID, str | None] = {}
        # The first refusal of the grant guard, for the audit log.
        self.refused: Refusal | None = None

    def _load_contexts(self, names: list[str]) -> dict[str, Context]:
        found: dict[str, Context] = {}
        for part in chunks(names):
            stmt = select(Context).where(or_(Context.key.in_(part), Context.number.in_(part)))
            for context in self.session.scalars(stmt):
                if self.scope is None or self.scope.covers(context):
                    found.setdefault(context.number or "", context)
                    found[context.key] = context  # a key wins over a number
        found.pop("", None)
        return found

    def context(self, name: str) -> Context | None:
        return self._contexts.get(name)

    def group(self, context: Context, name: str) -> UserGroup | None:
        return self.groups.get((context.id, name))

    def refusal(self, context: Context, group: UserGroup) -> str | None:
        """Why the caller may not put someone into ``group``, or None if they may."""
        if self.guard is None:
            return None
        if group.id not in self._grantable:
            try:
                self.guard.check(
                    context,
                    {r.acl_id: r.value for r in group.rights},
                    target="group",
                    target_id=group.id,
                )
                self._grantable[group.id] = None
            except Forbidden as exc:
                self._grantable[group.id] = exc.detail
                self.refused = exc.refusal
        return self._grantable[group.id]
