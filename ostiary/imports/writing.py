"""Writing a chunk of planned rows in Core, with every table the user services keep in step:
search terms, rights epochs and the audit events the services record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, update

from ostiary.access import epochs
from ostiary.access.models import GroupMember
from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.audit.services import event_row
from ostiary.db.types import utcnow
from ostiary.imports.planning import Outcome, RowPlan
from ostiary.users.models import Membership, User, UserSearchTerm
from ostiary.users.services import AUDIT_ACTIONS
from ostiary.users.terms import term_rows

_TERM_COLUMNS = ("username", "email_key", "first_name_key", "last_name_key", "status")


@dataclass
class _Batch:
    users: list[dict[str, Any]] = field(default_factory=list)
    memberships: list[dict[str, Any]] = field(default_factory=list)
    members_in: list[dict[str, Any]] = field(default_factory=list)
    members_out: list[dict[str, Any]] = field(default_factory=list)
    terms_out: list[Any] = field(default_factory=list)
    terms: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    scopes: set[str] = field(default_factory=set)


def write_chunk(
    connection: Connection, actor: Actor, plans: Sequence[RowPlan]
) -> list[dict[str, Any]]:
    """Write what the plans say; unchanged rows write nothing. Returns the audit events."""
    now = utcnow()
    batch = _Batch()
    for plan in plans:
        if plan.outcome is Outcome.UNCHANGED:
            continue
        if plan.current is None:
            _created(batch, actor, plan, now)
        else:
            _updated(connection, batch, actor, plan, now)
        _joined(batch, actor, plan, now)
    for table, rows in (
        (User, batch.users),
        (Membership, batch.memberships),
    ):
        if rows:
            connection.execute(insert(table), rows)
    if batch.terms_out:
        connection.execute(
            delete(UserSearchTerm).where(UserSearchTerm.user_id.in_(batch.terms_out))
        )
    if batch.terms:
        connection.execute(insert(UserSearchTerm), batch.terms)
    if batch.members_out:
        for row in batch.members_out:
            connection.execute(
                delete(GroupMember).where(
                    and_(
                        GroupMember.group_id == row["group_id"],
                        GroupMember.user_id == row["user_id"],
                    )
                )
            )
    if batch.members_in:
        connection.execute(insert(GroupMember), batch.members_in)
    epochs.bump_on(connection, batch.scopes)
    if batch.events:
        connection.execute(insert(AuditEvent), batch.events)
    return batch.events


def _created(batch: _Batch, actor: Actor, plan: RowPlan, now: Any) -> None:
    columns = plan.columns | {"created_at": now, "updated_at": now}
    batch.users.append(columns)
    batch.terms.extend(term_rows(columns))
    recorded = {
        "username": columns["username"],
        "domain": plan.domain.name,
        "status": str(columns["status"]),
        "two_factor": str(columns["two_factor"]),
    }
    recorded |= {k: v for k, v in plan.row.profile.items() if v is not None}
    if columns["email_verified"]:
        recorded["email_verified"] = True
    if columns["password_hash"]:
        recorded["password"] = "set"
    batch.events.append(
        event_row(
            actor, "user.created", target_type="user", target_id=plan.user_id, changes=recorded
        )
    )


def _updated(connection: Connection, batch: _Batch, actor: Actor, plan: RowPlan, now: Any) -> None:
    current = plan.current
    assert current is not None
    if plan.columns:
        connection.execute(
            update(User).where(User.id == plan.user_id).values(**plan.columns, updated_at=now)
        )
    if any(column in plan.columns for column in _TERM_COLUMNS):
        batch.terms_out.append(plan.user_id)
        batch.terms.extend(term_rows(dict(current) | plan.columns))
    if any(column in plan.columns for column in epochs.USER_WATCHED):
        batch.scopes.add(epochs.user_scope(plan.user_id))
    target = {"target_type": "user", "target_id": plan.user_id}
    if plan.changes:
        batch.events.append(event_row(actor, "user.updated", **target, changes=plan.changes))
    if plan.status_action is not None:
        status = [current["status"], str(plan.columns["status"])]
        batch.events.append(
            event_row(
                actor, AUDIT_ACTIONS[plan.status_action], **target, changes={"status": status}
            )
        )
    if plan.password_set:
        batch.events.append(
            event_row(actor, "user.password_set", **target, changes={"password": "set"})
        )


def _joined(batch: _Batch, actor: Actor, plan: RowPlan, now: Any) -> None:
    context = plan.context
    target = {"target_type": "user", "target_id": plan.user_id, "context_id": context.id}
    if plan.joins:
        batch.memberships.append(
            {"user_id": plan.user_id, "context_id": context.id, "created_at": now}
        )
        batch.events.append(
            event_row(actor, "membership.added", **target, changes={"context": context.key})
        )
    if plan.groups_added or plan.groups_removed:
        batch.members_in += [{"group_id": g, "user_id": plan.user_id} for g in plan.groups_added]
        batch.members_out += [{"group_id": g, "user_id": plan.user_id} for g in plan.groups_removed]
        changes = {
            "added": sorted(str(g) for g in plan.groups_added),
            "removed": sorted(str(g) for g in plan.groups_removed),
        }
        batch.events.append(event_row(actor, "group.members_changed", **target, changes=changes))
    # No rights can be cached yet for a user this chunk creates: their counter stays unset
    # (read as 0) rather than a row per new user.
    if plan.current is not None and (plan.joins or plan.groups_added or plan.groups_removed):
        batch.scopes.add(epochs.user_scope(plan.user_id))
