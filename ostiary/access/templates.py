"""ACL templates: named right values that are copied, never linked."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from ostiary.access.models import AclTemplate, TemplateRight
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db.session import OstiarySession
from ostiary.errors import AlreadyExists, NotFound, RuleViolation
from ostiary.text import Text

# Words that follow /templates/ in addresses of their own.
RESERVED_KEYS = frozenset({"export", "import"})


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
                if key in RESERVED_KEYS:
                    # /api/v1/templates/export and the console's page of that name.
                    raise RuleViolation(
                        Text(
                            "'{key}' is the name of a page of templates, not free as a key", key=key
                        ),
                        field="key",
                    )
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

    # -- administration ------------------------------------------------------------------

    def list(self) -> Sequence[AclTemplate]:
        return self.session.scalars(select(AclTemplate).order_by(AclTemplate.key)).all()

    def get(self, key: str) -> AclTemplate:
        template = self.find(key)
        if template is None:
            raise NotFound(Text("no template with key '{key}'", key=key), field="template")
        return template

    def create(
        self, key: str, *, name: str, context_types: list[str], rights: dict[uuid.UUID, str]
    ) -> AclTemplate:
        if self.find(key) is not None:
            raise AlreadyExists(Text("a template with key '{key}' exists", key=key), field="key")
        template, _ = self.put(key, name=name, context_types=context_types, rights=rights)
        return template

    def delete(self, template: AclTemplate) -> None:
        """Groups and policies made from it keep their copied values."""
        with self.session.atomic():
            self.audit.record(
                self.actor,
                "template.deleted",
                target_type="template",
                target_id=template.id,
                changes={"key": template.key},
            )
            self.session.delete(template)
