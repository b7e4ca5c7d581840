"""Sets of right values, as written by people ({module: {acl: value}}) and as stored."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from sqlalchemy import select

from ostiary.access.models import USER_PREFERENCES, Acl, Module
from ostiary.access.values import normalise, present
from ostiary.db.session import OstiarySession
from ostiary.errors import FieldProblem

RightsByModule = Mapping[str, Mapping[str, object]]


class RightSets:
    """Turns named right values into ``{acl_id: stored value}`` and back."""

    def __init__(self, session: OstiarySession) -> None:
        self.session = session

    def resolve(
        self, rights: RightsByModule, *, place: str, problems: list[FieldProblem]
    ) -> dict[uuid.UUID, str]:
        resolved: dict[uuid.UUID, str] = {}
        for module_key, values in rights.items():
            module = self.session.scalars(
                select(Module).where(Module.key == module_key)
            ).one_or_none()
            if module is None:
                problems.append(
                    FieldProblem(f"{place}.{module_key}", f"no module with key '{module_key}'")
                )
                continue
            acls = {acl.key: acl for acl in module.acls}
            for acl_key, value in values.items():
                where = f"{place}.{module_key}.{acl_key}"
                acl = acls.get(acl_key)
                if acl is None:
                    problems.append(
                        FieldProblem(where, f"module '{module_key}' has no right '{acl_key}'")
                    )
                    continue
                if acl.category == USER_PREFERENCES:
                    problems.append(FieldProblem(where, "user preferences cannot be granted"))
                    continue
                try:
                    resolved[acl.id] = normalise(acl, value)
                except ValueError as exc:
                    problems.append(FieldProblem(where, str(exc)))
        return resolved

    def describe(self, stored: Iterable[tuple[Acl, str]]) -> dict[str, dict[str, object]]:
        named: dict[str, dict[str, object]] = {}
        for acl, value in sorted(stored, key=lambda item: (item[0].module.key, item[0].key)):
            named.setdefault(acl.module.key, {})[acl.key] = present(acl.type, value)
        return named
