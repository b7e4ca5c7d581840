"""ACL templates: named right values that are copied, never linked."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from ostiary.access.models import AclTemplate, TemplateRight
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db.session import OstiarySession


class TemplateService:
    def __init__(self, session: OstiarySession, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.audit = AuditLog(session)

    def find(self, key: str) -> AclTemplate | None:
        return self.session.scalars(select(AclTemplate).where(AclTemplate.key == key)).one_or_none()

    def values(self, template: AclTemplate) -> dict[uuid.UUID, str]:
        return {right.acl_id: right.value for right in template.rights}

    def put(
        self, key: str, *, name: str, context_types: list[str], rights: dict[uuid.UUID, str]
    ) -> tuple[AclTemplate, str]:
        with self.session.atomic():
            template = self.find(key)
            created = template is None
            if template is None:
                template = AclTemplate(key=key, name=name, context_types=[], rights=[])
                self.session.add(template)
            changes: dict[str, object] = {}
            if template.name != name:
                changes["name"] = name
                template.name = name
            if template.context_types != sorted(context_types):
                changes["context_types"] = sorted(context_types)
                template.context_types = sorted(context_types)
            if self.values(template) != rights:
                template.rights = [TemplateRight(acl_id=a, value=v) for a, v in rights.items()]
                changes["rights"] = len(rights)
            if not changes and not created:
                return template, "unchanged"
            self.session.flush()
            self.audit.record(
                self.actor,
                "template.created" if created else "template.updated",
                target_type="template",
                target_id=template.id,
                changes={"key": key, **changes},
            )
            return template, "created" if created else "updated"
