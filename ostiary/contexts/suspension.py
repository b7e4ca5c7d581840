"""Suspending and reactivating contexts (what it closes: ``ostiary.contexts.closed``).

A suspension or reactivation is a conditional update, so that workers and nodes racing to make
the same change make it once, and it raises the rights counters of the subtree it closes or
opens, so that cached rights there are computed afresh.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import or_, update

from ostiary.access import epochs
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.contexts.models import Context, ContextStatus, ContextType, SuspensionReason
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.errors import InvalidTransition, RuleViolation
from ostiary.text import Text


class Suspensions:
    def __init__(self, session: OstiarySession, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.audit = AuditLog(session)

    def suspend(
        self,
        context: Context,
        reason: SuspensionReason,
        *,
        changes: dict[str, object] | None = None,
    ) -> bool:
        """Suspend ``context``; False when it was not active (or, for an administrator,
        already suspended by one). An administrator's suspension replaces the contract's."""
        if context.type == ContextType.ROOT:
            raise RuleViolation("the root context cannot be suspended", field="id")
        allowed_from = Context.status == ContextStatus.ACTIVE
        if reason is SuspensionReason.ADMINISTRATOR:
            allowed_from = or_(
                allowed_from,
                (Context.status == ContextStatus.SUSPENDED)
                & (Context.suspended_by == SuspensionReason.CONTRACT),
            )
        with self.session.atomic():
            done = self._transition(
                context,
                allowed_from,
                {"status": ContextStatus.SUSPENDED, "suspended_by": reason},
            )
            if done:
                self._record(context, "context.suspended", reason, changes)
        return done

    def reactivate(
        self,
        context: Context,
        reason: SuspensionReason,
        today: date,
        *,
        changes: dict[str, object] | None = None,
    ) -> bool:
        """Lift a suspension. A contract lifts only the contract's; an administrator any."""
        condition = Context.status == ContextStatus.SUSPENDED
        values: dict[str, object] = {"status": ContextStatus.ACTIVE, "suspended_by": None}
        if reason is SuspensionReason.CONTRACT:
            condition = condition & (Context.suspended_by == SuspensionReason.CONTRACT)
        else:
            values["reactivated_on"] = today
        with self.session.atomic():
            done = self._transition(context, condition, values)
            if done:
                self._record(context, "context.reactivated", reason, changes)
        return done

    def require_suspend(self, context: Context) -> Context:
        """An administrator's suspension through the API: refused when there is none to make."""
        if not self.suspend(context, SuspensionReason.ADMINISTRATOR):
            raise InvalidTransition(
                Text("the context is {status} and cannot be suspended", status=context.status),
                field="status",
            )
        return context

    def require_reactivate(self, context: Context, today: date) -> Context:
        if not self.reactivate(context, SuspensionReason.ADMINISTRATOR, today):
            raise InvalidTransition(
                Text("the context is {status}, not suspended", status=context.status),
                field="status",
            )
        return context

    def _transition(self, context: Context, condition: Any, values: dict[str, object]) -> bool:
        # Core, on the session's connection: the ORM's bulk update would raise every counter.
        changed = self.session.core().execute(
            update(Context)
            .where(Context.id == context.id, condition)
            .values(**values, updated_at=utcnow())
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            self.session.refresh(context)
            return False
        epochs.bump(self.session, epochs.subtree_scopes(self.session, context.path))
        self.session.refresh(context)
        return True

    def _record(
        self,
        context: Context,
        action: str,
        reason: SuspensionReason,
        changes: dict[str, object] | None,
    ) -> None:
        self.audit.record(
            self.actor,
            action,
            target_type="context",
            target_id=context.id,
            context_id=context.id,
            changes={"reason": str(reason), **(changes or {})},
        )
