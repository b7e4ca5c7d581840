"""Effective rights of a user in a context for a module (PRODUCT.md, "Effective rights").

1. every right of the module unset; 2. e1: for delegated users, the groups of the context whose
role is among the login's external roles, in alphabetical order of name; 3. e2: the user's groups
in the context, alphabetically, later overwriting earlier; 4. e3: the user's own rights, when the
instance allows them; 5. the context's access policy caps; 6. module rules: the module must be
allowed for the context's type and its access right true, or nothing is granted. In a suspended
context, or one below a suspended context, nothing is granted either.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, literal, null, select, union_all

from ostiary.access.models import (
    USER_PREFERENCES,
    GroupMember,
    GroupRight,
    Module,
    PolicyRight,
    UserGroup,
    UserRight,
)
from ostiary.access.subjects import RightsHolder, RightsPlace
from ostiary.access.values import TRUE, RightValue, present
from ostiary.contexts.closed import SUSPENDED_AMONG, ancestors
from ostiary.db.session import OstiarySession
from ostiary.users.models import Membership


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


@dataclass(frozen=True)
class AclInfo:
    id: uuid.UUID
    key: str
    type: str


@dataclass(frozen=True)
class ModuleSnapshot:
    """What evaluation needs of a module, detached from any session so that it can be cached.

    Lookups and default decisions are made once here: a user's groups usually set a few dozen
    of a module's hundreds of rights, and the others need no work per evaluation.
    """

    key: str
    context_types: tuple[str, ...]
    access_right: str | None
    acls: tuple[AclInfo, ...]
    by_id: dict[uuid.UUID, AclInfo] = field(init=False, compare=False, repr=False)
    defaults: dict[str, Decision] = field(init=False, compare=False, repr=False)
    closed: dict[str, Decision] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        def decisions(step: Step) -> dict[str, Decision]:
            return {a.key: Decision(a.key, a.type, present(a.type, None), step) for a in self.acls}

        object.__setattr__(self, "by_id", {acl.id: acl for acl in self.acls})
        object.__setattr__(self, "defaults", decisions(Step.DEFAULT))
        object.__setattr__(self, "closed", decisions(Step.MODULE_ACCESS))

    @classmethod
    def of(cls, module: Module) -> ModuleSnapshot:
        return cls(
            module.key,
            tuple(module.context_types),
            module.access_right,
            tuple(
                AclInfo(a.id, a.key, a.type) for a in module.acls if a.category != USER_PREFERENCES
            ),
        )


# The value of a right so far, the step that set it, and the group it came from.
Slot = tuple[str | None, Step, str | None]

_GROUP_VALUES = (
    select(UserGroup.name, GroupRight.acl_id, GroupRight.value)
    .join(GroupRight, GroupRight.group_id == UserGroup.id)
    .where(UserGroup.context_id == bindparam("context_id"))
)
_E1_VALUES = _GROUP_VALUES.where(UserGroup.role.in_(bindparam("roles", expanding=True)))
_E2_VALUES = _GROUP_VALUES.where(
    UserGroup.id.in_(
        select(GroupMember.group_id).where(GroupMember.user_id == bindparam("user_id"))
    )
)
_DIRECT_VALUES = select(UserRight.acl_id, UserRight.value).where(
    UserRight.user_id == bindparam("user_id"), UserRight.context_id == bindparam("context_id")
)
_POLICY_VALUES = select(PolicyRight.acl_id, PolicyRight.value).where(
    PolicyRight.context_id == bindparam("context_id")
)
_MEMBERSHIP = select(Membership.user_id).where(
    Membership.user_id == bindparam("user_id"), Membership.context_id == bindparam("context_id")
)
# Step e2, whether the user is a member at all and whether the context is closed, in one
# statement (one round trip on PostgreSQL): the last two come back as rows whose group name is
# NULL, which no group has, and whose value says which.
_MEMBER, _CLOSED = "member", "closed"
_E2_MEMBERSHIP_CLOSED = union_all(
    _E2_VALUES,
    select(null(), null(), literal(_MEMBER)).where(_MEMBERSHIP.exists()),
    select(null(), null(), literal(_CLOSED)).where(SUSPENDED_AMONG),
)


class RightsEvaluator:
    def __init__(self, session: OstiarySession, *, direct_user_rights: bool) -> None:
        self.session = session
        self.direct_user_rights = direct_user_rights

    def evaluate(
        self,
        user: RightsHolder,
        context: RightsPlace,
        module: Module | ModuleSnapshot,
        *,
        external_roles: Iterable[str] = (),
    ) -> EffectiveRights:
        snapshot = module if isinstance(module, ModuleSnapshot) else ModuleSnapshot.of(module)
        by_id = snapshot.by_id
        db = self.session.core()
        where = {"user_id": user.id, "context_id": context.id}
        # Only rights that some step sets; the rest keep their default decision.
        slots: dict[str, Slot] = {}

        roles = sorted(set(external_roles))
        if roles and user.delegated:
            e1 = db.execute(_E1_VALUES, {"context_id": context.id, "roles": roles})
            self._overlay(slots, by_id, _alphabetical(e1), Step.E1)
        e2 = db.execute(
            _E2_MEMBERSHIP_CLOSED, {**where, "ancestor_ids": ancestors(context.path)}
        ).all()
        marks = {value for group, _acl, value in e2 if group is None}
        member, closed = _MEMBER in marks, _CLOSED in marks
        e2_values = [row for row in e2 if row[0] is not None]
        self._overlay(slots, by_id, _alphabetical(e2_values), Step.E2)
        if self.direct_user_rights:
            direct = db.execute(_DIRECT_VALUES, where)
            self._overlay(slots, by_id, [(None, a, v) for a, v in direct], Step.E3)
        if context.has_access_policy:
            policy = db.execute(_POLICY_VALUES, {"context_id": context.id})
            self._cap(slots, by_id, policy)

        denial = self._denial(member, context, snapshot, slots) or (
            "the context is suspended" if closed else None
        )
        if denial:
            return EffectiveRights(
                snapshot.key, str(context.id), False, dict(snapshot.closed), denial
            )
        decisions = dict(snapshot.defaults)
        for key, (value, step, group) in slots.items():
            kind = snapshot.defaults[key].type
            decisions[key] = Decision(key, kind, present(kind, value), step, group)
        return EffectiveRights(snapshot.key, str(context.id), True, decisions, None)

    # -- parts ---------------------------------------------------------------------------

    @staticmethod
    def _overlay(
        slots: dict[str, Slot],
        by_id: dict[uuid.UUID, AclInfo],
        values: Iterable[tuple[str | None, uuid.UUID, str]],
        step: Step,
    ) -> None:
        for group, acl_id, value in values:
            acl = by_id.get(acl_id)
            if acl is not None:
                slots[acl.key] = (value, step, group)

    @staticmethod
    def _cap(
        slots: dict[str, Slot],
        by_id: dict[uuid.UUID, AclInfo],
        policy: Iterable[tuple[uuid.UUID, str]],
    ) -> None:
        """A right the policy does not grant becomes unset."""
        granted = {by_id[a].key: v for a, v in policy if a in by_id}
        types = {acl.key: acl.type for acl in by_id.values()}
        for key, (value, _step, _group) in list(slots.items()):
            allowed = granted.get(key)
            if value is not None and (
                allowed is None or (types[key] == "bool" and allowed != TRUE)
            ):
                slots[key] = (None, Step.POLICY, None)

    @staticmethod
    def _denial(
        member: bool, context: RightsPlace, module: ModuleSnapshot, slots: dict[str, Slot]
    ) -> str | None:
        if not member:
            return "the user is not a member of this context"
        if module.context_types and context.type not in module.context_types:
            return f"the module is not available in {context.type} contexts"
        if module.access_right and slots.get(module.access_right, (None,))[0] != TRUE:
            return f"the module's access right '{module.access_right}' is not granted"
        return None


def _alphabetical(
    rows: Iterable[tuple[str, uuid.UUID, str]],
) -> list[tuple[str | None, uuid.UUID, str]]:
    """(group name, acl id, value), groups in alphabetical order of name.

    Sorted here, not by the database, so that both databases order names alike.
    """
    return sorted(
        ((name, acl_id, value) for name, acl_id, value in rows),
        key=lambda row: (row[0].casefold(), row[0]),
    )
