"""The form of right values shared by templates, groups and policies: one field per right of
every module (a checkbox for a bool right, an input for a text right), turned into the
``{module: {acl: value}}`` that the API takes, so that ``compose`` checks it as it checks the
API's; its problems come back to the field of their right."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from starlette.datastructures import FormData

from ostiary.access.guard import GrantGuard
from ostiary.access.models import USER_PREFERENCES, Acl, AclType, Module
from ostiary.access.rightsets import RightsByModule
from ostiary.access.values import FALSE, TRUE, value_rule
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.errors import InvalidInput

PREFIX = "r-"


def field_of(acl_id: uuid.UUID) -> str:
    return f"{PREFIX}{acl_id}"


@dataclass(frozen=True)
class Category:
    name: str
    acls: list[Acl]


@dataclass(frozen=True)
class ModuleRights:
    module: Module
    categories: list[Category]


@dataclass(frozen=True)
class RightsForm:
    """The grantable rights of every module (no user preferences), in module, category and
    key order."""

    modules: list[ModuleRights]
    # Rights the viewer may not grant (``GrantGuard.ungrantable``): shown, not for changing.
    locked: frozenset[uuid.UUID] = frozenset()

    def locking(self, guard: GrantGuard, context: Context) -> RightsForm:
        return replace(self, locked=guard.ungrantable(context, self.acls()))

    @classmethod
    def load(cls, session: OstiarySession) -> RightsForm:
        modules = session.scalars(
            select(Module).options(selectinload(Module.acls)).order_by(Module.key)
        ).all()
        found = []
        for module in modules:
            by_category: dict[str, list[Acl]] = {}
            for acl in sorted(module.acls, key=lambda a: (a.category, a.key)):
                if acl.category != USER_PREFERENCES:
                    by_category.setdefault(acl.category, []).append(acl)
            if by_category:
                categories = [Category(name, acls) for name, acls in by_category.items()]
                found.append(ModuleRights(module, categories))
        return cls(found)

    def acls(self) -> list[Acl]:
        return [acl for m in self.modules for c in m.categories for acl in c.acls]

    @staticmethod
    def rule(acl: Acl) -> str:
        return value_rule(acl)

    def named(self, form: FormData, current: Mapping[uuid.UUID, str]) -> RightsByModule:
        """The values the form holds. A ticked box is ``true``; an unticked one is unset, but a
        right held as ``false`` stays ``false`` (it overrides groups before it). An empty text
        field is unset. A locked right keeps its ``current`` value."""
        named: dict[str, dict[str, object]] = {}
        for acl in self.acls():
            if acl.id in self.locked and field_of(acl.id) not in form:
                # A browser does not send a disabled field: the right keeps what it holds. (A
                # post that sends one anyway is checked like any other, and refused.)
                kept = current.get(acl.id)
                if kept is not None:
                    value = kept == TRUE if acl.type == AclType.BOOL else kept
                    named.setdefault(acl.module.key, {})[acl.key] = value
                continue
            raw = form.get(field_of(acl.id))
            typed = raw if isinstance(raw, str) else ""
            if acl.type == AclType.BOOL:
                if typed == TRUE:
                    named.setdefault(acl.module.key, {})[acl.key] = True
                elif current.get(acl.id) == FALSE:
                    named.setdefault(acl.module.key, {})[acl.key] = False
            elif typed.strip():
                named.setdefault(acl.module.key, {})[acl.key] = typed
        return named

    def typed(self, form: FormData) -> dict[str, str]:
        """What the form held, by field, to show it again."""
        return {
            field_of(acl.id): str(form.get(field_of(acl.id)) or "")
            for acl in self.acls()
            if isinstance(form.get(field_of(acl.id)), str)
        }

    @staticmethod
    def shown(values: Mapping[uuid.UUID, str]) -> dict[str, str]:
        """Stored values, by field."""
        return {field_of(acl_id): value for acl_id, value in values.items()}

    def errors(self, exc: InvalidInput) -> dict[str, str]:
        """Each problem at the field of its right (``rights.<module>.<acl>``); others under
        their own name (``template``)."""
        places = {f"rights.{acl.module.key}.{acl.key}": field_of(acl.id) for acl in self.acls()}
        found: dict[str, str] = {}
        for problem in exc.problems:
            found.setdefault(places.get(problem.field, problem.field), problem.message)
        return found
