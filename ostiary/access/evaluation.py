"""Effective rights of a user in a context for a module (PRODUCT.md, "Effective rights")."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select

from ostiary.access.models import (
    USER_PREFERENCES,
    GroupMember,
    GroupRight,
    Module,
    PolicyRight,
    UserGroup,
    UserRight,
)
from ostiary.access.values import TRUE, RightValue, present
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.users.models import DomainKind, Membership, User


class Step(enum.StrEnum):
    DEFAULT = "default"
    E1 = "e1"
    E2 = "e2"
    E3 = "e3"
    POLICY = "policy"
    MODULE_ACCESS = "module access"


@dataclass(frozen=True)
class Decision:
    """The value of one right and what decided it."""

    key: str
    type: str
    value: RightValue | None
    step: Step
    group: str | None = None


@dataclass(frozen=True)
class EffectiveRights:
    module: str
    context_id: str
    access: bool
    decisions: dict[str, Decision]
    # Why the module is closed, when it is.
    denial: str | None = None

    def allows(self, key: str) -> bool:
        decision = self.decisions.get(key)
        return self.access and decision is not None and decision.value is True

    def text(self, key: str) -> str | None:
        decision = self.decisions.get(key)
        if not self.access or decision is None or not isinstance(decision.value, str):
            return None
        return decision.value


def _group_order(group: UserGroup) -> tuple[str, str]:
    return (group.name.casefold(), group.name)


class RightsEvaluator:
    def __init__(self, session: OstiarySession, *, direct_user_rights: bool) -> None:
        self.session = session
        self.direct_user_rights = direct_user_rights

    def evaluate(
        self,
        user: User,
        context: Context,
        module: Module,
        *,
        external_roles: Iterable[str] = (),
    ) -> EffectiveRights:
        acls = [acl for acl in module.acls if acl.category != USER_PREFERENCES]
        by_id = {acl.id: acl for acl in acls}
        stored: dict[str, tuple[str | None, Step, str | None]] = {
            acl.key: (None, Step.DEFAULT, None) for acl in acls
        }

        def overlay(values: Iterable[tuple[uuid.UUID, str]], step: Step, group: str | None) -> None:
            for acl_id, value in values:
                acl = by_id.get(acl_id)
                if acl is not None:
                    stored[acl.key] = (value, step, group)

        roles = set(external_roles)
        if roles and user.domain.kind == DomainKind.DELEGATED:
            for group in self._groups(context, roles=roles):
                overlay(self._group_rights(group, by_id), Step.E1, group.name)
        for group in self._groups(context, member=user):
            overlay(self._group_rights(group, by_id), Step.E2, group.name)
        if self.direct_user_rights:
            direct = select(UserRight.acl_id, UserRight.value).where(
                UserRight.user_id == user.id,
                UserRight.context_id == context.id,
                UserRight.acl_id.in_(list(by_id)),
            )
            overlay(self._pairs(direct), Step.E3, None)
        if context.has_access_policy:
            policy = select(PolicyRight.acl_id, PolicyRight.value).where(
                PolicyRight.context_id == context.id, PolicyRight.acl_id.in_(list(by_id))
            )
            granted = dict(self._pairs(policy))
            for acl in acls:
                value, _, _ = stored[acl.key]
                allowed = granted.get(acl.id)
                if value is not None and (
                    allowed is None or (acl.type == "bool" and allowed != TRUE)
                ):
                    stored[acl.key] = (None, Step.POLICY, None)

        decisions = {
            acl.key: Decision(
                acl.key, acl.type, present(acl.type, stored[acl.key][0]), *stored[acl.key][1:]
            )
            for acl in acls
        }
        denial = self._denial(user, context, module, stored)
        if denial is not None:
            decisions = {
                key: Decision(key, d.type, present(d.type, None), Step.MODULE_ACCESS)
                for key, d in decisions.items()
            }
        return EffectiveRights(module.key, str(context.id), denial is None, decisions, denial)

    # -- parts ---------------------------------------------------------------------------

    def _denial(
        self,
        user: User,
        context: Context,
        module: Module,
        stored: dict[str, tuple[str | None, Step, str | None]],
    ) -> str | None:
        if self.session.get(Membership, (user.id, context.id)) is None:
            return "the user is not a member of this context"
        if module.context_types and context.type not in module.context_types:
            return f"the module is not available in {context.type} contexts"
        if module.access_right and stored.get(module.access_right, (None,))[0] != TRUE:
            return f"the module's access right '{module.access_right}' is not granted"
        return None

    def _groups(
        self, context: Context, *, member: User | None = None, roles: set[str] | None = None
    ) -> Sequence[UserGroup]:
        stmt = select(UserGroup).where(UserGroup.context_id == context.id)
        if member is not None:
            stmt = stmt.join(GroupMember, GroupMember.group_id == UserGroup.id).where(
                GroupMember.user_id == member.id
            )
        if roles is not None:
            stmt = stmt.where(UserGroup.role.in_(roles))
        return sorted(self.session.scalars(stmt).all(), key=_group_order)

    def _group_rights(
        self, group: UserGroup, by_id: dict[uuid.UUID, Acl]
    ) -> list[tuple[uuid.UUID, str]]:
        return self._pairs(
            select(GroupRight.acl_id, GroupRight.value).where(
                GroupRight.group_id == group.id, GroupRight.acl_id.in_(list(by_id))
            )
        )

    def _pairs(self, stmt: Select[tuple[uuid.UUID, str]]) -> list[tuple[uuid.UUID, str]]:
        return [(acl_id, value) for acl_id, value in self.session.execute(stmt)]
