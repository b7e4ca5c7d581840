"""What importing each row would do to the database, decided against its current state.

Validation plans every row, chunk by chunk, and keeps the plans with what they were decided
on (``Seen``). Just before a chunk is written, a few light reads tell whether that is still
the state of the database; if someone changed it meanwhile, the chunk is planned again, so
the change is seen, not overwritten blindly.
"""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, select

from ostiary.access.models import GroupMember, UserGroup
from ostiary.contexts.models import Context
from ostiary.db.types import uuid7
from ostiary.imports.problems import RowProblem
from ostiary.imports.references import DEFAULT_DOMAIN, DomainRef, References
from ostiary.imports.rows import ImportRow
from ostiary.text import Text
from ostiary.users.lifecycle import LifecycleAction, allowed_actions, next_status
from ostiary.users.models import DomainKind, Membership, TwoFactor, User, UserStatus
from ostiary.users.services import profile_columns


class Outcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(slots=True)
class RowPlan:
    row: ImportRow
    user_id: uuid.UUID
    context: Context
    domain: DomainRef
    # The stored columns of an existing user; None for a new one.
    current: RowMapping | None
    # Columns to write (all of a new user's, the changed ones of an existing user's).
    columns: dict[str, Any] = field(default_factory=dict)
    # What ``user.updated`` records: field -> [old, new].
    changes: dict[str, list[Any]] = field(default_factory=dict)
    status_action: LifecycleAction | None = None
    password_set: bool = False
    joins: bool = False
    groups_added: frozenset[uuid.UUID] = frozenset()
    groups_removed: frozenset[uuid.UUID] = frozenset()

    @property
    def outcome(self) -> Outcome:
        if self.current is None:
            return Outcome.CREATED
        changed = self.columns or self.joins or self.groups_added or self.groups_removed
        return Outcome.UPDATED if changed else Outcome.UNCHANGED


@dataclass(frozen=True)
class _Placed:
    id: uuid.UUID
    path: str
    type: str
    parent_id: uuid.UUID | None = None
    has_access_policy: bool = False


@dataclass(frozen=True)
class Seen:
    """What planning a chunk read of the database, in the few columns that tell a change:
    a user's ``updated_at`` moves with every change of their row."""

    users: frozenset[tuple[str, uuid.UUID, datetime]]  # username, id, updated_at
    email_owners: frozenset[tuple[str, str]]  # e-mail key, username
    memberships: frozenset[tuple[uuid.UUID, uuid.UUID]]  # user, context
    group_members: frozenset[tuple[uuid.UUID, uuid.UUID]]  # user, group


@dataclass(frozen=True)
class ChunkPlan:
    plans: list[RowPlan | list[RowProblem]]
    seen: Seen


_USERS = select(User.__table__).where(User.username.in_(bindparam("names", expanding=True)))
_EMAILS = select(User.username, User.email_key).where(
    User.email_key.in_(bindparam("keys", expanding=True))
)
_MEMBERSHIPS = (
    select(Membership.user_id, Context.id, Context.path, Context.type)
    .join(Context, Context.id == Membership.context_id)
    .where(Membership.user_id.in_(bindparam("ids", expanding=True)))
)
_GROUPS = (
    select(GroupMember.user_id, GroupMember.group_id, UserGroup.context_id)
    .join(UserGroup, UserGroup.id == GroupMember.group_id)
    .where(GroupMember.user_id.in_(bindparam("ids", expanding=True)))
)
_USER_STAMPS = select(User.username, User.id, User.updated_at).where(
    User.username.in_(bindparam("names", expanding=True))
)
_MEMBERSHIP_KEYS = select(Membership.user_id, Membership.context_id).where(
    Membership.user_id.in_(bindparam("ids", expanding=True))
)
_GROUP_MEMBER_KEYS = select(GroupMember.user_id, GroupMember.group_id).where(
    GroupMember.user_id.in_(bindparam("ids", expanding=True))
)


class Planner:
    def __init__(self, connection: Connection, references: References) -> None:
        self.connection = connection
        self.refs = references

    def plan(self, rows: Sequence[ImportRow]) -> list[RowPlan | list[RowProblem]]:
        return self.plan_chunk(rows).plans

    def plan_chunk(self, rows: Sequence[ImportRow]) -> ChunkPlan:
        usernames = [row.username for row in rows]
        existing = {
            r["username"]: r
            for r in self.connection.execute(_USERS, {"names": usernames}).mappings()
        }
        ids = [r["id"] for r in existing.values()]
        places: dict[uuid.UUID, list[_Placed]] = defaultdict(list)
        groups: dict[tuple[uuid.UUID, uuid.UUID], set[uuid.UUID]] = defaultdict(set)
        group_members: set[tuple[uuid.UUID, uuid.UUID]] = set()
        if ids:
            for user_id, context_id, path, type_ in self.connection.execute(
                _MEMBERSHIPS, {"ids": ids}
            ):
                places[user_id].append(_Placed(context_id, path, type_))
            for user_id, group_id, context_id in self.connection.execute(_GROUPS, {"ids": ids}):
                groups[(user_id, context_id)].add(group_id)
                group_members.add((user_id, group_id))
        owners = self._email_owners(rows)
        seen = Seen(
            users=frozenset((r["username"], r["id"], r["updated_at"]) for r in existing.values()),
            email_owners=frozenset(owners.items()),
            memberships=frozenset(
                (user_id, place.id) for user_id, placed in places.items() for place in placed
            ),
            group_members=frozenset(group_members),
        )
        plans = [
            _RowPlanner(self.refs, row, existing.get(row.username), places, groups, owners).plan()
            for row in rows
        ]
        return ChunkPlan(plans, seen)

    def still(self, rows: Sequence[ImportRow], seen: Seen) -> bool:
        """Whether the database is as it was when ``rows`` were planned, as far as they go."""
        users = frozenset(
            tuple(r)
            for r in self.connection.execute(
                _USER_STAMPS, {"names": [row.username for row in rows]}
            )
        )
        if users != seen.users or frozenset(self._email_owners(rows).items()) != (
            seen.email_owners
        ):
            return False
        ids = [user_id for _name, user_id, _stamp in users]
        if not ids:
            return not seen.memberships and not seen.group_members
        memberships = frozenset(
            tuple(r) for r in self.connection.execute(_MEMBERSHIP_KEYS, {"ids": ids})
        )
        group_members = frozenset(
            tuple(r) for r in self.connection.execute(_GROUP_MEMBER_KEYS, {"ids": ids})
        )
        return memberships == seen.memberships and group_members == seen.group_members

    def _email_owners(self, rows: Sequence[ImportRow]) -> dict[str, str]:
        keys = sorted({row.email_key for row in rows if row.email_key})
        if not keys:
            return {}
        return {key: username for username, key in self.connection.execute(_EMAILS, {"keys": keys})}


class _RowPlanner:
    def __init__(
        self,
        refs: References,
        row: ImportRow,
        current: RowMapping | None,
        places: dict[uuid.UUID, list[_Placed]],
        groups: dict[tuple[uuid.UUID, uuid.UUID], set[uuid.UUID]],
        email_owners: dict[str, str],
    ) -> None:
        self.refs = refs
        self.row = row
        self.current = current
        self.places = places[current["id"]] if current is not None else []
        self.groups = groups
        self.email_owners = email_owners
        self.problems: list[RowProblem] = []

    def problem(self, column: str, message: str) -> None:
        self.problems.append(RowProblem(self.row.line, column, message))

    def plan(self) -> RowPlan | list[RowProblem]:
        row, current = self.row, self.current
        scope = self.refs.scope
        if current is not None and scope is not None and not scope.covers_user(self.places):
            # As creating the user through the API would say: nothing more about them.
            self.problem(
                "username", Text("username '{username}' is already taken", username=row.username)
            )
            return self.problems
        context = self.refs.context(row.context)
        if context is None:
            self.problem(
                "context", Text("no context with key or number '{context}'", context=row.context)
            )
        domain = self._domain()
        owner = self.email_owners.get(row.email_key or "")
        if owner is not None and owner != row.username:
            self.problem("email", "the e-mail address is already taken by another user")
        if context is None or domain is None:
            return self.problems
        if context.type not in domain.context_types:
            self.problem(
                "domain" if row.domain else "context",
                Text(
                    "users of {name} cannot belong to {type} contexts (allowed: {context_types})",
                    name=domain.name,
                    type=context.type,
                    context_types=", ".join(sorted(domain.context_types)),
                ),
            )
        if domain.kind == DomainKind.DELEGATED and row.password_hash:
            self.problem(
                "password_hash",
                Text(
                    "users of the delegated domain {name} sign in at their identity provider and have no password here",
                    name=domain.name,
                ),
            )
        user_id = current["id"] if current is not None else uuid7()
        plan = RowPlan(row, user_id, context, domain, current)
        if current is None:
            self._create(plan)
        else:
            self._update(plan)
        self._groups(plan)
        return self.problems or plan

    def _domain(self) -> DomainRef | None:
        current = self.current
        name = self.row.domain
        if name is None:
            if current is not None:
                return self.refs.domains_by_id[current["domain_id"]]
            name = DEFAULT_DOMAIN
        domain = self.refs.domains.get(name)
        if domain is None:
            self.problem("domain", Text("no user domain named '{name}'", name=name))
        return domain

    def _create(self, plan: RowPlan) -> None:
        row = plan.row
        status = row.status or UserStatus.DRAFT
        profile = dict.fromkeys(("email", "first_name", "last_name", "phone", "language"))
        profile.update(row.profile)
        plan.columns = {
            "id": plan.user_id,
            "username": row.username,
            "domain_id": plan.domain.id,
            "status": str(status),
            "two_factor": str(TwoFactor.INHERIT),
            "password_hash": row.password_hash,
            "security_stamp": uuid.uuid4(),
            "service_account": False,
            # As the API's ``email_verified``: the CRM vouches for the address it gives.
            "email_verified": bool(row.email_verified) and profile["email"] is not None,
            **profile_columns(profile),
        }
        plan.joins = True

    def _update(self, plan: RowPlan) -> None:
        row, current = plan.row, plan.current
        assert current is not None
        if current["service_account"]:
            self.problem("username", "is a client's service account, which an import cannot change")
            return
        delegated = self.refs.domains_by_id[current["domain_id"]].kind == DomainKind.DELEGATED
        profile = {k: v for k, v in row.profile.items() if current[k] != v}
        if profile and delegated:
            self.problem(
                sorted(profile)[0],
                "users of a delegated domain are managed by their identity provider and are "
                "read-only here",
            )
        for column, new in profile.items():
            plan.changes[column] = [current[column], new]
        plan.columns.update(profile_columns(profile))
        self._change_verified(plan, delegated)
        if plan.domain.id != current["domain_id"]:
            self._change_domain(plan)
        if row.status is not None and row.status != current["status"]:
            self._change_status(plan, UserStatus(current["status"]), row.status)
        if row.password_hash is not None and row.password_hash != current["password_hash"]:
            plan.columns["password_hash"] = row.password_hash
            plan.columns["security_stamp"] = uuid.uuid4()
            plan.password_set = True
        plan.joins = not any(place.id == plan.context.id for place in self.places)

    def _change_verified(self, plan: RowPlan, delegated: bool) -> None:
        """As the API does: as the file says, for the address the user has now; a new address
        the file says nothing of is not verified; not said and no new address, unchanged."""
        row, current = plan.row, plan.current
        assert current is not None
        if row.email_verified is not None:
            verified = row.email_verified
        elif "email" in plan.changes:
            verified = False
        else:
            return
        verified = verified and plan.columns.get("email", current["email"]) is not None
        if verified == current["email_verified"]:
            return
        if delegated and row.email_verified is not None:
            self.problem(
                "email_verified",
                "users of a delegated domain are managed by their identity provider and are "
                "read-only here",
            )
        plan.changes["email_verified"] = [current["email_verified"], verified]
        plan.columns["email_verified"] = verified

    def _change_domain(self, plan: RowPlan) -> None:
        current = plan.current
        assert current is not None
        misplaced = sorted({p.type for p in self.places} - plan.domain.context_types)
        if misplaced:
            self.problem(
                "domain",
                Text(
                    "users of {name} cannot belong to {misplaced} contexts, and this user belongs to one",
                    name=plan.domain.name,
                    misplaced=misplaced[0],
                ),
            )
        old = self.refs.domains_by_id[current["domain_id"]]
        plan.changes["domain"] = [old.name, plan.domain.name]
        plan.columns["domain_id"] = plan.domain.id
        if plan.domain.kind == DomainKind.DELEGATED and current["password_hash"]:
            plan.columns["password_hash"] = None

    def _change_status(self, plan: RowPlan, old: UserStatus, new: UserStatus) -> None:
        for action in allowed_actions(old):
            if next_status(old, action) is new:
                plan.status_action = action
                plan.columns["status"] = str(new)
                if new is not UserStatus.ACTIVE:
                    plan.columns["security_stamp"] = uuid.uuid4()
                return
        self.problem("status", Text("a user who is {old} cannot become {new}", old=old, new=new))

    def _groups(self, plan: RowPlan) -> None:
        names = plan.row.groups
        if names is None:
            return
        wanted: set[uuid.UUID] = set()
        for name in sorted(names):
            group = self.refs.group(plan.context, name)
            if group is None:
                self.problem(
                    "groups",
                    Text(
                        "no group named '{name}' in context '{key}'",
                        name=name,
                        key=plan.context.key,
                    ),
                )
                continue
            wanted.add(group.id)
        held = self.groups.get((plan.user_id, plan.context.id), set())
        plan.groups_added = frozenset(wanted - held)
        plan.groups_removed = frozenset(held - wanted)
        for group_id in sorted(plan.groups_added):
            group = self.refs.groups_by_id[group_id]
            refusal = self.refs.refusal(plan.context, group)
            if refusal is not None:
                self.problem(
                    "groups", Text("group '{name}': {refusal}", name=group.name, refusal=refusal)
                )
