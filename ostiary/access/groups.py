"""User groups of a context: their rights and members."""

from __future__ import annotations

import uuid
from collections.abc import Set

from sqlalchemy import select

from ostiary.access.models import GroupMember, GroupRight, UserGroup
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession


class GroupService:
    def __init__(self, session: OstiarySession, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.audit = AuditLog(session)

    def find(self, context: Context, name: str) -> UserGroup | None:
        return self.session.scalars(
            select(UserGroup).where(UserGroup.context_id == context.id, UserGroup.name == name)
        ).one_or_none()

    def put(
        self,
        context: Context,
        name: str,
        *,
        role: str | None,
        rights: dict[uuid.UUID, str],
    ) -> tuple[UserGroup, str]:
        """Create the group or make its role and rights exactly these."""
        with self.session.atomic():
            group = self.find(context, name)
            created = group is None
            if group is None:
                group = UserGroup(
                    context_id=context.id, name=name, role=role, rights=[], members=[]
                )
                self.session.add(group)
            changes: dict[str, object] = {}
            if group.role != role:
                changes["role"] = role
                group.role = role
            current = {right.acl_id: right.value for right in group.rights}
            if current != rights:
                group.rights = [
                    GroupRight(acl_id=acl_id, value=value) for acl_id, value in rights.items()
                ]
                changes["rights"] = len(rights)
            if not changes and not created:
                return group, "unchanged"
            self.session.flush()
            self.audit.record(
                self.actor,
                "group.created" if created else "group.updated",
                target_type="group",
                target_id=group.id,
                context_id=context.id,
                changes={"name": name, **changes},
            )
            return group, "created" if created else "updated"

    def set_members_of_user(
        self, user_id: uuid.UUID, context: Context, groups: Set[uuid.UUID]
    ) -> bool:
        """Make ``groups`` exactly the user's groups in ``context``; returns whether anything changed."""
        current = set(
            self.session.scalars(
                select(GroupMember.group_id)
                .join(UserGroup, UserGroup.id == GroupMember.group_id)
                .where(GroupMember.user_id == user_id, UserGroup.context_id == context.id)
            )
        )
        if current == set(groups):
            return False
        with self.session.atomic():
            for group_id in current - groups:
                self.session.delete(self.session.get(GroupMember, (group_id, user_id)))
            for group_id in groups - current:
                self.session.add(GroupMember(group_id=group_id, user_id=user_id))
            self.audit.record(
                self.actor,
                "group.members_changed",
                target_type="user",
                target_id=user_id,
                context_id=context.id,
                changes={
                    "added": sorted(str(g) for g in groups - current),
                    "removed": sorted(str(g) for g in current - groups),
                },
            )
        return True
