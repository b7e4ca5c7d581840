"""Modules and their ACL catalogues."""

from __future__ import annotations

from sqlalchemy import select

from ostiary.access.catalogue import ModuleSpec
from ostiary.access.models import Acl, Module
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db.session import OstiarySession


class ModuleService:
    def __init__(self, session: OstiarySession, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.audit = AuditLog(session)

    def find(self, key: str) -> Module | None:
        return self.session.scalars(select(Module).where(Module.key == key)).one_or_none()

    def put(self, spec: ModuleSpec) -> str:
        """Create the module or bring it to ``spec``; ACLs not in the spec are kept.

        Returns "created", "updated" or "unchanged".
        """
        with self.session.atomic():
            module = self.find(spec.key)
            created = module is None
            if module is None:
                module = Module(key=spec.key, name=spec.name, context_types=[], acls=[])
                self.session.add(module)
            changes: dict[str, object] = {}
            for field in ("name", "context_types", "access_right"):
                new = getattr(spec, field)
                if field == "context_types":
                    new = sorted(new)
                if getattr(module, field) != new:
                    changes[field] = new
                    setattr(module, field, new)
            existing = {acl.key: acl for acl in module.acls}
            for acl_spec in spec.acls:
                acl = existing.get(acl_spec.key)
                if acl is None:
                    module.acls.append(
                        Acl(
                            key=acl_spec.key,
                            category=acl_spec.category,
                            type=acl_spec.type,
                            description=acl_spec.description,
                        )
                    )
                    changes.setdefault("acls_added", []).append(acl_spec.key)  # type: ignore[union-attr]
                    continue
                for field in ("category", "type", "description"):
                    new = getattr(acl_spec, field)
                    if field == "description" and new is None:
                        continue
                    if getattr(acl, field) != new:
                        setattr(acl, field, new)
                        changes.setdefault("acls_changed", []).append(acl_spec.key)  # type: ignore[union-attr]
            if not changes:
                return "unchanged"
            self.session.flush()
            self.audit.record(
                self.actor,
                "module.created" if created else "module.updated",
                target_type="module",
                target_id=module.id,
                changes=changes,
            )
            return "created" if created else "updated"
