"""User domains: CSP, ENTERPRISE and any added by the operator."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db.session import OstiarySession
from ostiary.errors import NotFound, RuleViolation
from ostiary.text import Text
from ostiary.users.models import Membership, User, UserDomain
from ostiary.users.schemas import DomainCreate, DomainUpdate


class DomainService:
    def __init__(self, session: OstiarySession, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.audit = AuditLog(session)

    def list(self) -> Sequence[UserDomain]:
        return self.session.scalars(select(UserDomain).order_by(UserDomain.name)).all()

    def find(self, name: str) -> UserDomain | None:
        return self.session.scalars(select(UserDomain).where(UserDomain.name == name)).one_or_none()

    def get(self, name: str, *, field: str = "name") -> UserDomain:
        domain = self.find(name)
        if domain is None:
            raise NotFound(Text("no user domain named '{name}'", name=name), field=field)
        return domain

    def create(self, data: DomainCreate) -> UserDomain:
        with self.session.atomic():
            domain = UserDomain(
                name=data.name, kind=data.kind, context_types=[str(t) for t in data.context_types]
            )
            self.session.add(domain)
            self.session.flush()
            self.audit.record(
                self.actor,
                "domain.created",
                target_type="domain",
                target_id=domain.id,
                changes=data.model_dump(mode="json"),
            )
        return domain

    def update(self, domain: UserDomain, data: DomainUpdate) -> UserDomain:
        changes: dict[str, object] = {}
        with self.session.atomic():
            if data.kind is not None and data.kind != domain.kind:
                changes["kind"] = [domain.kind, str(data.kind)]
                domain.kind = data.kind
            if data.context_types is not None:
                types = [str(t) for t in data.context_types]
                if types != domain.context_types:
                    self._check_members_fit(domain, set(types))
                    changes["context_types"] = [domain.context_types, types]
                    domain.context_types = types
            if changes:
                self.audit.record(
                    self.actor,
                    "domain.updated",
                    target_type="domain",
                    target_id=domain.id,
                    changes=changes,
                )
        return domain

    def _check_members_fit(self, domain: UserDomain, types: set[str]) -> None:
        from ostiary.contexts.models import Context

        misplaced = self.session.scalars(
            select(Context.type)
            .join(Membership, Membership.context_id == Context.id)
            .join(User, User.id == Membership.user_id)
            .where(User.domain_id == domain.id, Context.type.not_in(types))
            .limit(1)
        ).first()
        if misplaced is not None:
            raise RuleViolation(
                Text(
                    "users of {name} are members of {misplaced} contexts, which the new context types would not allow",
                    name=domain.name,
                    misplaced=misplaced,
                ),
                field="context_types",
            )
