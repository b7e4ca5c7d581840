"""Modules and their ACL catalogues."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select

from ostiary.access.catalogue import OSTIARY, OSTIARY_MODULE, AclSpec, ModuleSpec
from ostiary.access.models import (
    USER_PREFERENCES,
    Acl,
    AclType,
    GroupRight,
    Module,
    PolicyRight,
    TemplateRight,
    UserPreference,
    UserRight,
)
from ostiary.access.schemas import AclIn, AclUpdate, ModuleCreate, ModuleUpdate
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db.session import OstiarySession
from ostiary.errors import AlreadyExists, NotFound, RuleViolation
from ostiary.text import Text


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

    # -- administration ------------------------------------------------------------------

    def list(self) -> Sequence[Module]:
        return self.session.scalars(select(Module).order_by(Module.key)).all()

    def get(self, key: str) -> Module:
        module = self.find(key)
        if module is None:
            raise NotFound(Text("no module with key '{key}'", key=key), field="module")
        return module

    def create(self, data: ModuleCreate) -> Module:
        if self.find(data.key) is not None:
            raise AlreadyExists(Text("a module with key '{key}' exists", key=data.key), field="key")
        keys = [acl.key for acl in data.acls]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise RuleViolation(
                Text("ACL keys appear twice: {duplicates}", duplicates=", ".join(duplicates)),
                field="acls",
            )
        check_access_right(data.access_right, {a.key: (a.type, a.category) for a in data.acls})
        spec = ModuleSpec(
            key=data.key,
            name=data.name,
            context_types=[str(t) for t in data.context_types],
            access_right=data.access_right,
            acls=[AclSpec(a.key, a.category, a.type, a.description) for a in data.acls],
        )
        with self.session.atomic():
            self.put(spec)
        return self.get(data.key)

    def update(self, module: Module, data: ModuleUpdate) -> Module:
        changes: dict[str, object] = {}
        with self.session.atomic():
            fields = data.model_fields_set
            if "name" in fields and data.name is not None and data.name != module.name:
                changes["name"] = [module.name, data.name]
                module.name = data.name
            if "context_types" in fields and data.context_types is not None:
                types = sorted(str(t) for t in data.context_types)
                if types != module.context_types:
                    changes["context_types"] = [module.context_types, types]
                    module.context_types = types
            if "access_right" in fields and data.access_right != module.access_right:
                check_access_right(
                    data.access_right, {a.key: (a.type, a.category) for a in module.acls}
                )
                changes["access_right"] = [module.access_right, data.access_right]
                module.access_right = data.access_right
            if changes:
                self.audit.record(
                    self.actor,
                    "module.updated",
                    target_type="module",
                    target_id=module.id,
                    changes=changes,
                )
        return module

    def delete(self, module: Module) -> None:
        if module.key == OSTIARY_MODULE:
            raise RuleViolation(
                "the ostiary module governs this server and cannot be deleted", field="module"
            )
        with self.session.atomic():
            self.audit.record(
                self.actor,
                "module.deleted",
                target_type="module",
                target_id=module.id,
                changes={"key": module.key},
            )
            self.session.delete(module)

    def add_acl(self, module: Module, data: AclIn) -> Acl:
        if any(acl.key == data.key for acl in module.acls):
            raise AlreadyExists(
                Text(
                    "module '{module}' already has a right '{key}'",
                    module=module.key,
                    key=data.key,
                ),
                field="key",
            )
        with self.session.atomic():
            acl = Acl(
                key=data.key, category=data.category, type=data.type, description=data.description
            )
            module.acls.append(acl)
            self.session.flush()
            self.audit.record(
                self.actor,
                "acl.created",
                target_type="module",
                target_id=module.id,
                changes=data.model_dump(mode="json"),
            )
        return acl

    def acl(self, module: Module, key: str) -> Acl:
        for acl in module.acls:
            if acl.key == key:
                return acl
        raise NotFound(
            Text("module '{module}' has no right '{acl}'", module=module.key, acl=key), field="acl"
        )

    def update_acl(self, module: Module, acl: Acl, data: AclUpdate) -> Acl:
        changes: dict[str, object] = {}
        with self.session.atomic():
            for field in data.model_fields_set:
                new = getattr(data, field)
                if field == "category" and new is None:
                    raise RuleViolation("category cannot be empty", field="category")
                if field == "category":
                    self._check_category_change(acl, new)
                if getattr(acl, field) != new:
                    changes[field] = [getattr(acl, field), new]
                    setattr(acl, field, new)
            if changes:
                self.audit.record(
                    self.actor,
                    "acl.updated",
                    target_type="module",
                    target_id=module.id,
                    changes={"acl": acl.key, **changes},
                )
        return acl

    @staticmethod
    def kept_because(module: Module, acl: Acl) -> str | None:
        """Why ``acl`` cannot be deleted, or None when it can."""
        if module.access_right == acl.key:
            return f"'{acl.key}' opens the module; choose another access right first"
        if module.key == OSTIARY_MODULE and any(spec.key == acl.key for spec in OSTIARY.acls):
            return "the ostiary module's own rights cannot be deleted"
        return None

    def delete_acl(self, module: Module, acl: Acl) -> None:
        reason = self.kept_because(module, acl)
        if reason is not None:
            raise RuleViolation(reason, field="acl")
        with self.session.atomic():
            self.audit.record(
                self.actor,
                "acl.deleted",
                target_type="module",
                target_id=module.id,
                changes={"acl": acl.key},
            )
            module.acls.remove(acl)

    def _check_category_change(self, acl: Acl, category: str) -> None:
        """A right becomes a preference, or the reverse, only while nobody holds a value of it."""
        if (acl.category == USER_PREFERENCES) == (category == USER_PREFERENCES):
            return
        if acl.module.access_right == acl.key:
            raise RuleViolation(
                Text("'{key}' opens the module and must stay a right", key=acl.key),
                field="category",
            )
        holders = (TemplateRight, GroupRight, PolicyRight, UserRight, UserPreference)
        for model in holders:
            if self.session.scalar(select(model.acl_id).where(model.acl_id == acl.id).limit(1)):
                held = Text(
                    "'{key}' has values in {table}; remove them before making it a preference"
                    if category == USER_PREFERENCES
                    else "'{key}' has values in {table}; remove them before making it a right",
                    key=acl.key,
                    table=model.__tablename__.replace("_", " "),
                )
                raise RuleViolation(held, field="category")


def check_access_right(key: str | None, acls: Mapping[str, tuple[str, str]]) -> None:
    """The access right must be a bool right (not a preference) of the module.

    ``acls`` maps each ACL key to its type and category.
    """
    if key is None:
        return
    type_, category = acls.get(key, ("", ""))
    if type_ != AclType.BOOL or category == USER_PREFERENCES:
        raise RuleViolation(
            Text(
                "the access right must be a bool right of the module, and '{key}' is not", key=key
            ),
            field="access_right",
        )
