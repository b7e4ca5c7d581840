"""User groups of a context: their rights and members."""

from __future__ import annotations

import uuid
from collections.abc import Set

from sqlalchemy import select

from ostiary.access.guard import GrantGuard
from ostiary.access.models import GroupMember, GroupRight, UserGroup
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.errors import AlreadyExists, NotFound, RuleViolation
from ostiary.text import Text
from ostiary.users.models import Membership, User


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
        """Make ``groups`` exactly the user's groups in ``context``; True if anything changed."""
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

    # -- administration ------------------------------------------------------------------

    def list(self, context: Context) -> list[UserGroup]:
        groups = self.session.scalars(
            select(UserGroup).where(UserGroup.context_id == context.id)
        ).all()
        return sorted(groups, key=lambda g: (g.name.casefold(), g.name))

    def get(self, context: Context, group_id: uuid.UUID) -> UserGroup:
        group = self.session.get(UserGroup, group_id)
        if group is None or group.context_id != context.id:
            raise NotFound(
                Text("no group with id '{group_id}' in this context", group_id=group_id),
                field="group_id",
            )
        return group

    def create(
        self,
        context: Context,
        name: str,
        role: str | None,
        rights: dict[uuid.UUID, str],
        guard: GrantGuard,
    ) -> UserGroup:
        with self.session.atomic():
            if self.find(context, name) is not None:
                raise AlreadyExists(
                    Text("the context already has a group named '{name}'", name=name), field="name"
                )
            guard.check(context, rights, target="group", target_id=None)
            group, _ = self.put(context, name, role=role, rights=rights)
        return group

    def rename(
        self, group: UserGroup, *, name: str | None, role: str | None, fields: Set[str]
    ) -> UserGroup:
        changes: dict[str, object] = {}
        with self.session.atomic():
            if "name" in fields and name is not None and name != group.name:
                changes["name"] = [group.name, name]
                group.name = name
            if "role" in fields and role != group.role:
                changes["role"] = [group.role, role]
                group.role = role
            if changes:
                self.audit.record(
                    self.actor,
                    "group.updated",
                    target_type="group",
                    target_id=group.id,
                    context_id=group.context_id,
                    changes=changes,
                )
        return group

    def set_rights(
        self, group: UserGroup, context: Context, rights: dict[uuid.UUID, str], guard: GrantGuard
    ) -> UserGroup:
        held = {r.acl_id: r.value for r in group.rights}
        # Keeping what the group holds grants nothing: only what it would gain is checked.
        gained = {acl_id: value for acl_id, value in rights.items() if held.get(acl_id) != value}
        with self.session.atomic():
            guard.check(context, gained, target="group", target_id=group.id)
            self.put(context, group.name, role=group.role, rights=rights)
        return group

    def delete(self, group: UserGroup) -> None:
        with self.session.atomic():
            self.audit.record(
                self.actor,
                "group.deleted",
                target_type="group",
                target_id=group.id,
                context_id=group.context_id,
                changes={"name": group.name},
            )
            self.session.delete(group)

    def members(self, group: UserGroup) -> list[User]:
        return list(
            self.session.scalars(
                select(User)
                .join(GroupMember, GroupMember.user_id == User.id)
                .where(GroupMember.group_id == group.id)
                .order_by(User.username)
            )
        )

    def add_member(self, group: UserGroup, context: Context, user: User, guard: GrantGuard) -> bool:
        """Only members of the group's context can join it; the caller must hold what it grants."""
        if self.session.get(GroupMember, (group.id, user.id)) is not None:
            return False
        if self.session.get(Membership, (user.id, context.id)) is None:
            raise RuleViolation(
                "only members of the group's context can join the group", field="user_id"
            )
        with self.session.atomic():
            guard.check(
                context,
                {r.acl_id: r.value for r in group.rights},
                target="group",
                target_id=group.id,
            )
            self.join(group, user)
        return True

    def join(self, group: UserGroup, user: User) -> bool:
        """Add a member without a grant check: for joins that were checked when offered (an
        accepted invitation). The user must be a member of the group's context already."""
        if self.session.get(GroupMember, (group.id, user.id)) is not None:
            return False
        with self.session.atomic():
            self.session.add(GroupMember(group_id=group.id, user_id=user.id))
            self.audit.record(
                self.actor,
                "group.member_added",
                target_type="user",
                target_id=user.id,
                context_id=group.context_id,
                changes={"group": group.name},
            )
        return True

    def remove_member(self, group: UserGroup, user: User) -> bool:
        member = self.session.get(GroupMember, (group.id, user.id))
        if member is None:
            return False
        with self.session.atomic():
            self.session.delete(member)
            self.audit.record(
                self.actor,
                "group.member_removed",
                target_type="user",
                target_id=user.id,
                context_id=group.context_id,
                changes={"group": group.name},
            )
        return True
