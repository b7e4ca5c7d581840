"""Creating, changing, moving and finding contexts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select, update

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.contexts.models import (
    ALLOWED_PARENTS,
    Context,
    ContextStatus,
    ContextType,
    SuspensionReason,
)
from ostiary.contexts.schemas import ContextCreate, ContextUpdate
from ostiary.contexts.suspension import Suspensions
from ostiary.db.paths import prefix_range, within_paths
from ostiary.db.session import OstiarySession
from ostiary.db.types import uuid7
from ostiary.errors import AlreadyExists, NotFound, RuleViolation
from ostiary.text import Text


def name_key(name: str) -> str:
    return name.casefold().strip()


@dataclass(frozen=True)
class ContextQuery:
    text: str | None = None
    number: str | None = None
    type: ContextType | None = None
    status: ContextStatus | None = None
    parent_id: uuid.UUID | None = None
    subtree_of: Context | None = None
    visible_paths: Sequence[str] | None = None
    after_path: str | None = None
    limit: int = 50


class ContextService:
    def __init__(self, session: OstiarySession, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.audit = AuditLog(session)

    # -- reading -------------------------------------------------------------------------

    def get(self, context_id: uuid.UUID) -> Context:
        context = self.session.get(Context, context_id)
        if context is None:
            raise NotFound(
                Text("no context with id '{context_id}'", context_id=context_id), field="id"
            )
        return context

    def get_by_key(self, key: str) -> Context | None:
        return self.session.scalars(select(Context).where(Context.key == key)).one_or_none()

    def get_by_number(self, number: str) -> Context | None:
        return self.session.scalars(select(Context).where(Context.number == number)).one_or_none()

    def root(self) -> Context | None:
        return self.session.scalars(
            select(Context).where(Context.type == ContextType.ROOT)
        ).one_or_none()

    def search(self, query: ContextQuery) -> Sequence[Context]:
        """Contexts in tree order (a parent before its children), continued after ``after_path``."""
        stmt = select(Context)
        if query.text:
            needle = name_key(query.text)
            stmt = stmt.where(
                or_(prefix_range(Context.name_key, needle), Context.number == query.text)
            )
        if query.number is not None:
            stmt = stmt.where(Context.number == query.number)
        if query.type is not None:
            stmt = stmt.where(Context.type == query.type)
        if query.status is not None:
            stmt = stmt.where(Context.status == query.status)
        if query.parent_id is not None:
            stmt = stmt.where(Context.parent_id == query.parent_id)
        if query.subtree_of is not None:
            stmt = stmt.where(prefix_range(Context.path, query.subtree_of.path))
        visible = within_paths(Context.path, query.visible_paths)
        if visible is not None:
            stmt = stmt.where(visible)
        if query.after_path is not None:
            stmt = stmt.where(Context.path > query.after_path)
        stmt = stmt.order_by(Context.path).limit(query.limit)
        return self.session.scalars(stmt).all()

    # -- changing ------------------------------------------------------------------------

    def create_once(self, data: ContextCreate) -> tuple[Context, bool]:
        """Create the context, or, when one with its external number exists and the request
        says the same of it, that one (a CRM's retry); True when it was created. A request
        racing with another for the same number meets the other's context."""
        if data.number is not None:
            found = self.get_by_number(data.number)
            if found is not None:
                return self._same_or_conflict(found, data), False
        try:
            return self.create(data), True
        except AlreadyExists as exc:
            found = self.get_by_number(data.number) if data.number is not None else None
            if exc.field != "number" or found is None:
                raise
            return self._same_or_conflict(found, data), False

    def _same_or_conflict(self, found: Context, data: ContextCreate) -> Context:
        given = data.model_dump(exclude_unset=True)
        given.setdefault("type", data.type)
        same = all(_plain(getattr(found, field)) == _plain(value) for field, value in given.items())
        if not same:
            raise AlreadyExists(
                Text(
                    "number '{number}' belongs to a context that differs from this request",
                    number=data.number,
                ),
                field="number",
            )
        return found

    def create(self, data: ContextCreate) -> Context:
        with self.session.atomic():
            parent = self._parent_for(data.type, data.parent_id)
            context_id = uuid7()
            context = Context(
                id=context_id,
                key=data.key or context_id.hex,
                type=data.type,
                name=data.name,
                name_key=name_key(data.name),
                number=data.number,
                status=data.status,
                suspended_by=(
                    SuspensionReason.ADMINISTRATOR
                    if data.status is ContextStatus.SUSPENDED
                    else None
                ),
                parent_id=parent.id if parent else None,
                path=(parent.path if parent else "/") + context_id.hex + "/",
                email_domains=data.email_domains,
            )
            self.session.add(context)
            self.session.flush()
            self.audit.record(
                self.actor,
                "context.created",
                target_type="context",
                target_id=context.id,
                context_id=context.id,
                changes=data.model_dump(mode="json", exclude_none=True),
            )
        return context

    def update(self, context: Context, data: ContextUpdate) -> Context:
        changes = {}
        with self.session.atomic():
            if "status" in data.model_fields_set:
                if data.status is None:
                    raise RuleViolation("status cannot be empty", field="status")
                self._change_status(context, data.status)
            for field in data.model_fields_set - {"status"}:
                new = getattr(data, field)
                if field in {"key", "name", "status"} and new is None:
                    raise RuleViolation(Text("{name} cannot be empty", name=field), field=field)
                old = getattr(context, field)
                if old != new:
                    changes[field] = [_plain(old), _plain(new)]
                    setattr(context, field, new)
            if "name" in changes:
                context.name_key = name_key(context.name)
            if changes:
                self.audit.record(
                    self.actor,
                    "context.updated",
                    target_type="context",
                    target_id=context.id,
                    context_id=context.id,
                    changes=changes,
                )
        return context

    def move(self, context: Context, new_parent: Context) -> Context:
        with self.session.atomic():
            if new_parent.path.startswith(context.path):
                raise RuleViolation("a context cannot move into its own subtree", field="parent_id")
            self._check_parent(ContextType(context.type), new_parent)
            old_path = context.path
            new_path = new_parent.path + context.id.hex + "/"
            old_parent_id = context.parent_id
            self.session.execute(
                update(Context)
                .where(prefix_range(Context.path, old_path))
                .values(path=new_path + func.substr(Context.path, len(old_path) + 1))
                .execution_options(synchronize_session=False)
            )
            self.session.execute(
                update(Context)
                .where(Context.id == context.id)
                .values(parent_id=new_parent.id)
                .execution_options(synchronize_session=False)
            )
            self.audit.record(
                self.actor,
                "context.moved",
                target_type="context",
                target_id=context.id,
                context_id=context.id,
                changes={"parent_id": [str(old_parent_id), str(new_parent.id)]},
            )
        self.session.expire_all()
        return self.get(context.id)

    def _change_status(self, context: Context, status: ContextStatus) -> None:
        """Suspending or reactivating through a change of status is an administrator's, as
        through the suspend and reactivate actions; other statuses are set plainly."""
        suspensions = Suspensions(self.session, self.actor)
        if status == context.status:
            return
        if status is ContextStatus.SUSPENDED:
            suspensions.require_suspend(context)
            return
        if context.status == ContextStatus.SUSPENDED:
            suspensions.require_reactivate(context, datetime.now(UTC).date())
        if status != context.status:
            self.audit.record(
                self.actor,
                "context.updated",
                target_type="context",
                target_id=context.id,
                context_id=context.id,
                changes={"status": [context.status, str(status)]},
            )
            context.status = status

    # -- rules ---------------------------------------------------------------------------

    def _parent_for(self, type_: ContextType, parent_id: uuid.UUID | None) -> Context | None:
        if type_ is ContextType.ROOT:
            if parent_id is not None:
                raise RuleViolation("the root context has no parent", field="parent_id")
            if self.root() is not None:
                raise RuleViolation("there is already a root context", field="type")
            return None
        if parent_id is None:
            raise RuleViolation(
                Text("a {type} context needs a parent", type=type_), field="parent_id"
            )
        parent = self.session.get(Context, parent_id)
        if parent is None:
            raise RuleViolation(
                Text("no context with id '{context_id}'", context_id=parent_id), field="parent_id"
            )
        self._check_parent(type_, parent)
        return parent

    @staticmethod
    def _check_parent(type_: ContextType, parent: Context) -> None:
        allowed = ALLOWED_PARENTS[type_]
        if parent.type not in allowed:
            names = ", ".join(sorted(allowed)) or "nothing"
            raise RuleViolation(
                Text(
                    "a {type} context cannot be placed under a {parent} context (allowed parents: {names})",
                    type=type_,
                    parent=parent.type,
                    names=names,
                ),
                field="parent_id",
            )


def _plain(value: object) -> object:
    return str(value) if isinstance(value, uuid.UUID) else value
