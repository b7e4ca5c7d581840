"""Deciding registrations and join requests: by a person in reach (the back office for new
organizations, contact persons for their own), or at once by a rule. The state moves on with a
conditional update, so of two decisions at once exactly one is made."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update

from ostiary.access.admin import AdminScope
from ostiary.access.groups import GroupService
from ostiary.access.guard import GrantGuard
from ostiary.access.models import UserGroup
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.contexts.models import Context, ContextStatus
from ostiary.contracts.models import Contract
from ostiary.db.paths import within_paths
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.errors import (
    InvalidTransition,
    NotFound,
    RuleViolation,
)
from ostiary.invitations.acceptance import admin_group
from ostiary.invitations.services import check_group_grants, group_in
from ostiary.messages.purposes import Channel
from ostiary.messages.services import Messages
from ostiary.registrations.models import Registration, RegistrationKind, RegistrationState
from ostiary.runtime import Runtime
from ostiary.text import Text
from ostiary.users.lifecycle import LifecycleAction
from ostiary.users.memberships import MembershipService
from ostiary.users.models import User, UserStatus
from ostiary.users.services import UserService

BY_CONTRACT = "rule: running contract"

APPROVED = {
    RegistrationKind.ORGANIZATION: "registration.approved",
    RegistrationKind.JOIN: "join_request.approved",
}
REJECTED = {
    RegistrationKind.ORGANIZATION: "registration.rejected",
    RegistrationKind.JOIN: "join_request.rejected",
}


@dataclass(frozen=True)
class Decider:
    """Who approves or rejects, where they may, and what they may grant."""

    actor: Actor
    scope: AdminScope
    guard: GrantGuard


class Decisions:
    def __init__(
        self, session: OstiarySession, runtime: Runtime, today: date | None = None
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.settings = runtime.settings
        self.today = today or utcnow().date()
        self.audit = AuditLog(session)
        self.messages = Messages(session, runtime)

    def get(
        self, registration_id: uuid.UUID, kind: RegistrationKind, scope: AdminScope
    ) -> Registration:
        row = self.session.get(Registration, registration_id)
        what = "registration" if kind is RegistrationKind.ORGANIZATION else "join request"
        if row is None or row.kind != kind:
            raise NotFound(
                Text(
                    "no {what} with id '{value}'",
                    what=what,
                    value=registration_id,
                ),
                field="id",
            )
        context = self.session.get(Context, row.context_id)
        if context is None or not scope.covers(context):
            raise scope.refuse(what, registration_id, row.context_id)
        return row

    def search(
        self,
        kind: RegistrationKind,
        *,
        visible_paths: Sequence[str] | None,
        state: RegistrationState | None = None,
        context_id: uuid.UUID | None = None,
        before_id: uuid.UUID | None = None,
        limit: int = 50,
    ) -> Sequence[Registration]:
        """Newest first."""
        stmt = select(Registration).where(Registration.kind == kind)
        if state is not None:
            stmt = stmt.where(Registration.state == state)
        if context_id is not None:
            stmt = stmt.where(Registration.context_id == context_id)
        if before_id is not None:
            stmt = stmt.where(Registration.id < before_id)
        visible = within_paths(Context.path, visible_paths)
        if visible is not None:
            stmt = stmt.join(Context, Context.id == Registration.context_id).where(visible)
        return self.session.scalars(stmt.order_by(Registration.id.desc()).limit(limit)).all()

    def approve(
        self, row: Registration, decider: Decider, groups: Sequence[str] = ()
    ) -> Registration:
        self._decidable(row, decider)
        context = self.session.get(Context, row.context_id)
        user = self.session.get(User, row.user_id) if row.user_id else None
        assert context is not None
        if user is None:
            raise InvalidTransition("the registrant's account is gone", field="state")
        with self.session.atomic():
            chosen = self._groups(row, context, groups, decider)
            self.admit(row, context, user, decider.actor, display_name_of(decider), chosen)
        return row

    def reject(self, row: Registration, decider: Decider, reason: str | None) -> Registration:
        """The person is told, with the reason when one is given."""
        self._decidable(row, decider)
        context = self.session.get(Context, row.context_id)
        assert context is not None
        with self.session.atomic():
            self.take(row, RegistrationState.REJECTED)
            row.reason = reason
            row.decided_at = utcnow()
            row.decided_by_id = decider.actor.user_id
            row.decided_by = display_name_of(decider)
            self.messages.send(
                "registration-rejected",
                row.email,
                {"organization": row.organization_name, "reason": reason or ""},
                channel=Channel.EMAIL,
            )
            self.audit.record(
                decider.actor,
                REJECTED[RegistrationKind(row.kind)],
                target_type="registration",
                target_id=row.id,
                context_id=context.id,
                changes={"reason": reason, "email": row.email},
            )
            user = self.session.get(User, row.user_id) if row.user_id else None
            if user is not None and user.status == UserStatus.DRAFT:
                row.user_id = None
                UserService(self.session, decider.actor, self.runtime.passwords).act(
                    user, LifecycleAction.DISCARD
                )
            if (
                row.kind == RegistrationKind.ORGANIZATION
                and context.status == ContextStatus.PENDING
            ):
                # Closed, and its number free for a registration that is right.
                context.status = ContextStatus.CLOSED
                context.number = None
                self.audit.record(
                    decider.actor,
                    "context.closed",
                    target_type="context",
                    target_id=context.id,
                    context_id=context.id,
                    changes={"status": [ContextStatus.PENDING, ContextStatus.CLOSED]},
                )
        return row

    def approve_on_contract(self, account: Context, contract: Contract, actor: Actor) -> None:
        """A running contract arrived for a pending account: approve its registration, when the
        instance says so. In the contract's transaction."""
        if not self.settings.registration_approve_on_contract:
            return
        if account.status != ContextStatus.PENDING or not contract.running_on(self.today):
            return
        row = self.session.scalars(
            select(Registration).where(
                Registration.context_id == account.id,
                Registration.kind == RegistrationKind.ORGANIZATION,
                Registration.state == RegistrationState.PENDING,
            )
        ).first()
        user = self.session.get(User, row.user_id) if row and row.user_id else None
        if row is None or user is None:
            return
        self.admit(row, account, user, actor, BY_CONTRACT, ())

    def take(self, row: Registration, state: RegistrationState) -> None:
        """Move a pending request on, conditionally: of two decisions at once, one wins."""
        moved = self.session.execute(
            update(Registration)
            .where(Registration.id == row.id, Registration.state == RegistrationState.PENDING)
            .values(state=state)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise InvalidTransition("the request was decided meanwhile", field="state")
        row.state = state

    def _decidable(self, row: Registration, decider: Decider) -> None:
        if row.state != RegistrationState.PENDING:
            raise InvalidTransition(
                Text("the request is {state}: only a pending one is decided", state=row.state),
                field="state",
            )
        if row.user_id is not None and decider.actor.user_id == row.user_id:
            raise RuleViolation("nobody decides their own request", field="id")

    def _groups(
        self, row: Registration, context: Context, refs: Sequence[str], decider: Decider
    ) -> list[UserGroup]:
        if refs and row.kind != RegistrationKind.JOIN:
            raise RuleViolation("groups are chosen for join requests only", field="groups")
        found: list[UserGroup] = []
        for position, ref in enumerate(refs):
            group = group_in(self.session, context, ref)
            if group is None:
                raise NotFound(
                    Text("the organization has no group with id or name '{ref}'", ref=ref),
                    field=f"groups[{position}]",
                )
            if group not in found:
                found.append(group)
        check_group_grants(decider.guard, context, found)
        return found

    def admit(
        self,
        row: Registration,
        context: Context,
        user: User,
        actor: Actor,
        decided_by: str,
        chosen: Sequence[UserGroup],
    ) -> None:
        organization = row.kind == RegistrationKind.ORGANIZATION
        self.take(row, RegistrationState.APPROVED)
        row.decided_at = utcnow()
        row.decided_by_id = actor.user_id
        row.decided_by = decided_by
        if organization and context.status == ContextStatus.PENDING:
            context.status = ContextStatus.ACTIVE
            self.audit.record(
                actor,
                "context.activated",
                target_type="context",
                target_id=context.id,
                context_id=context.id,
                changes={"status": [ContextStatus.PENDING, ContextStatus.ACTIVE]},
            )
        users = UserService(self.session, actor, self.runtime.passwords)
        new_account = user.status == UserStatus.DRAFT
        if new_account:
            users.act(user, LifecycleAction.ACTIVATE)
        MembershipService(self.session, actor).add(user, context)
        groups = GroupService(self.session, actor)
        joined = list(chosen)
        if organization:
            admins = admin_group(self.session, groups, context)
            if admins is not None:
                joined.append(admins)
        for group in joined:
            groups.join(group, user)
        self.audit.record(
            actor,
            APPROVED[RegistrationKind(row.kind)],
            target_type="registration",
            target_id=row.id,
            context_id=context.id,
            changes={
                "user_id": str(user.id),
                "groups": sorted({g.name for g in joined}),
                "decided_by": decided_by,
            },
        )
        if new_account:
            self.audit.record(
                actor,
                "user.registered",
                target_type="user",
                target_id=user.id,
                context_id=context.id,
                changes={"lead": False, "registration": str(row.id)},
            )
        self.messages.send(
            "registration-approved",
            user,
            {"organization": context.name, "link": f"{self.settings.issuer.rstrip('/')}/login"},
            channel=Channel.EMAIL,
            context=context,
        )


def display_name_of(decider: Decider) -> str:
    return decider.actor.label
