"""Delegated administration: where a caller may use a right of the ``ostiary`` module.

A caller holds a right in a context when their effective ostiary rights there grant it and the
context's ``API IP Allow`` admits their address; they may then use it in that context's subtree.
Objects outside every such subtree are answered as absent, and the attempt is audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from ostiary.access.cache import RightsCache
from ostiary.access.catalogue import OSTIARY_MODULE, Right
from ostiary.access.values import address_allowed
from ostiary.audit.actor import Actor
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.errors import Forbidden, NotFound, Refusal
from ostiary.users.models import Membership, User

OUT_OF_REACH = "access.out_of_reach"


@dataclass(frozen=True)
class AdminScope:
    actor: Actor
    right: str
    # Paths of the contexts whose subtrees the right reaches, without nested duplicates.
    paths: tuple[str, ...]
    root_path: str | None

    @property
    def unrestricted(self) -> bool:
        return self.root_path is not None and self.root_path in self.paths

    @property
    def visible_paths(self) -> Sequence[str] | None:
        """For queries: None when everything is in reach."""
        return None if self.unrestricted else self.paths

    def covers(self, context: Context) -> bool:
        return any(context.path.startswith(path) for path in self.paths)

    def covers_user(self, memberships: Sequence[Context]) -> bool:
        """A user is in reach through any of their contexts; one with none only from the root."""
        if not memberships:
            return self.unrestricted
        return any(self.covers(context) for context in memberships)

    def refuse(self, what: str, target_id: uuid.UUID, context_id: uuid.UUID | None) -> NotFound:
        """The answer for an object that exists but lies outside the caller's reach."""
        return NotFound(
            f"no {what} with id '{target_id}'",
            refusal=Refusal(
                self.actor,
                OUT_OF_REACH,
                what,
                str(target_id),
                context_id,
                f"outside the reach of the caller's '{self.right}' right",
            ),
        )

    def require(self, context: Context, *, what: str = "context") -> None:
        if not self.covers(context):
            raise self.refuse(what, context.id, context.id)

    def require_root(self, what: str) -> None:
        if not self.unrestricted:
            raise Forbidden(f"{what} needs the '{self.right}' right at the root")


class AdminAuthorizer:
    def __init__(self, session: OstiarySession, rights: RightsCache) -> None:
        self.session = session
        self.rights = rights

    def scope(self, user: User, right: str, actor: Actor) -> AdminScope:
        paths: list[str] = []
        root_path: str | None = None
        for context in self.memberships_of(user):
            if context.parent_id is None:
                root_path = context.path
            if any(context.path.startswith(path) for path in paths):
                continue
            rights = self.rights.effective(self.session, user, context, OSTIARY_MODULE)
            allowed_from = rights.text(Right.API_IP_ALLOW)
            if rights.allows(right) and address_allowed(allowed_from, actor.client_address):
                paths.append(context.path)
        return AdminScope(actor, right, tuple(paths), root_path)

    def require(self, user: User, right: str, actor: Actor) -> AdminScope:
        """The caller's scope for ``right``; refused when it reaches nowhere."""
        scope = self.scope(user, right, actor)
        if not scope.paths:
            raise Forbidden(
                f"this needs the '{right}' right of the {OSTIARY_MODULE} module, "
                "granted in a context and allowed from this address"
            )
        return scope

    def memberships_of(self, user: User) -> Sequence[Context]:
        """The user's contexts in tree order."""
        return self.session.scalars(
            select(Context)
            .join(Membership, Membership.context_id == Context.id)
            .where(Membership.user_id == user.id)
            .order_by(Context.path)
        ).all()
