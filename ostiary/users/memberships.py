"""Which contexts a user belongs to."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from ostiary.access.models import GroupMember, UserGroup
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.errors import InvalidTransition, RuleViolation
from ostiary.text import Text
from ostiary.users.models import Membership, User, UserStatus


class MembershipService:
    def __init__(self, session: OstiarySession, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.audit = AuditLog(session)

    def list(self, user: User) -> list[tuple[Membership, Context]]:
        rows = self.session.execute(
            select(Membership, Context)
            .join(Context, Context.id == Membership.context_id)
            .where(Membership.user_id == user.id)
            .order_by(Context.path)
        )
        return [(membership, context) for membership, context in rows]

    def groups_of(self, user: User) -> dict[uuid.UUID, list[str]]:
        """The names of the user's groups, by the id of their context."""
        rows = self.session.execute(
            select(UserGroup.context_id, UserGroup.name)
            .join(GroupMember, GroupMember.group_id == UserGroup.id)
            .where(GroupMember.user_id == user.id)
            .order_by(UserGroup.name)
        )
        found: dict[uuid.UUID, list[str]] = {}
        for context_id, name in rows:
            found.setdefault(context_id, []).append(name)
        return found

    def find(self, user: User, context: Context) -> Membership | None:
        return self.session.get(Membership, (user.id, context.id))

    def add(self, user: User, context: Context) -> tuple[Membership, bool]:
        """Make ``user`` a member of ``context``; returns the membership and whether it is new."""
        existing = self.find(user, context)
        if existing is not None:
            return existing, False
        if user.status == UserStatus.DELETED:
            raise InvalidTransition("a deleted user cannot join a context", field="status")
        if context.type not in user.domain.context_types:
            raise RuleViolation(
                Text(
                    "users of {name} cannot belong to {type} contexts (allowed: {context_types})",
                    name=user.domain.name,
                    type=context.type,
                    context_types=", ".join(user.domain.context_types),
                ),
                field="context_id",
            )
        with self.session.atomic():
            membership = Membership(user_id=user.id, context_id=context.id)
            self.session.add(membership)
            self.audit.record(
                self.actor,
                "membership.added",
                target_type="user",
                target_id=user.id,
                context_id=context.id,
                changes={"context": context.key},
            )
        return membership, True

    def remove(self, user: User, context: Context) -> bool:
        """End the membership and the user's group memberships in that context."""
        membership = self.find(user, context)
        if membership is None:
            return False
        with self.session.atomic():
            group_ids = select(UserGroup.id).where(UserGroup.context_id == context.id)
            self.session.execute(
                delete(GroupMember).where(
                    GroupMember.user_id == user.id, GroupMember.group_id.in_(group_ids)
                )
            )
            self.session.delete(membership)
            self.audit.record(
                self.actor,
                "membership.removed",
                target_type="user",
                target_id=user.id,
                context_id=context.id,
                changes={"context": context.key},
            )
        return True
