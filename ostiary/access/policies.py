"""Access policies: the rights anyone can have in a context at most."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from ostiary.access.admin import AdminScope
from ostiary.access.models import PolicyRight
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession


def settable(scope: AdminScope, context: Context) -> bool:
    """A policy caps the people who set policies below it, so it is set from above: from the
    root, or from a context strictly above this one."""
    return scope.unrestricted or any(
        context.path.startswith(path) and context.path != path for path in scope.paths
    )


def require_settable(scope: AdminScope, context: Context) -> None:
    """Refused as absent (and audited) unless the scope may set the context's policy."""
    if not settable(scope, context):
        raise scope.refuse("context", context.id, context.id)


class PolicyService:
    def __init__(self, session: OstiarySession, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.audit = AuditLog(session)

    def values(self, context: Context) -> dict[uuid.UUID, str]:
        rows = self.session.execute(
            select(PolicyRight.acl_id, PolicyRight.value).where(
                PolicyRight.context_id == context.id
            )
        )
        return {acl_id: value for acl_id, value in rows}

    def set(self, context: Context, values: dict[uuid.UUID, str]) -> bool:
        """Make the policy exactly ``values``; returns whether anything changed."""
        if context.has_access_policy and self.values(context) == values:
            return False
        with self.session.atomic():
            self.session.execute(delete(PolicyRight).where(PolicyRight.context_id == context.id))
            self.session.add_all(
                PolicyRight(context_id=context.id, acl_id=acl_id, value=value)
                for acl_id, value in values.items()
            )
            context.has_access_policy = True
            self.audit.record(
                self.actor,
                "policy.set",
                target_type="context",
                target_id=context.id,
                context_id=context.id,
                changes={"rights": len(values)},
            )
        return True

    def clear(self, context: Context) -> bool:
        if not context.has_access_policy:
            return False
        with self.session.atomic():
            self.session.execute(delete(PolicyRight).where(PolicyRight.context_id == context.id))
            context.has_access_policy = False
            self.audit.record(
                self.actor,
                "policy.cleared",
                target_type="context",
                target_id=context.id,
                context_id=context.id,
            )
        return True
