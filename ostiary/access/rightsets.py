"""Sets of right values, as written by people ({module: {acl: value}}) and as stored."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from sqlalchemy import select

from ostiary import text
from ostiary.access.models import USER_PREFERENCES, Acl, Module
from ostiary.access.values import normalise, present
from ostiary.db.session import OstiarySession
from ostiary.errors import FieldProblem, InvalidInput
from ostiary.text import Text

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
                    FieldProblem(
                        f"{place}.{module_key}",
                        Text("no module with key '{key}'", key=module_key),
                    )
                )
                continue
            acls = {acl.key: acl for acl in module.acls}
            for acl_key, value in values.items():
                where = f"{place}.{module_key}.{acl_key}"
                acl = acls.get(acl_key)
                if acl is None:
                    problems.append(
                        FieldProblem(
                            where,
                            Text(
                                "module '{module}' has no right '{acl}'",
                                module=module_key,
                                acl=acl_key,
                            ),
                        )
                    )
                    continue
                if acl.category == USER_PREFERENCES:
                    problems.append(FieldProblem(where, "user preferences cannot be granted"))
                    continue
                try:
                    resolved[acl.id] = normalise(acl, value)
                except ValueError as exc:
                    problems.append(FieldProblem(where, text.of(exc)))
        return resolved

    def describe(self, stored: Iterable[tuple[Acl, str]]) -> dict[str, dict[str, object]]:
        named: dict[str, dict[str, object]] = {}
        for acl, value in sorted(stored, key=lambda item: (item[0].module.key, item[0].key)):
            named.setdefault(acl.module.key, {})[acl.key] = present(acl.type, value)
        return named


def compose(
    session: OstiarySession,
    *,
    template_key: str | None,
    rights: RightsByModule | None,
    context_type: str | None,
) -> dict[uuid.UUID, str]:
    """A template's values (copied) with ``rights`` laid over them; every problem is reported."""
    from ostiary.access.templates import TemplateService
    from ostiary.audit.actor import Actor

    problems: list[FieldProblem] = []
    values: dict[uuid.UUID, str] = {}
    if template_key is not None:
        template = TemplateService(session, Actor.system()).find(template_key)
        if template is None:
            problems.append(
                FieldProblem(
                    "template",
                    Text("no template with key '{key}'", key=template_key),
                )
            )
        elif context_type and template.context_types and context_type not in template.context_types:
            problems.append(
                FieldProblem(
                    "template",
                    Text(
                        "template '{key}' is for {context_types} contexts, not {context_type}",
                        key=template_key,
                        context_types=", ".join(template.context_types),
                        context_type=context_type,
                    ),
                )
            )
        else:
            values.update({right.acl_id: right.value for right in template.rights})
    if rights:
        values.update(RightSets(session).resolve(rights, place="rights", problems=problems))
    if problems:
        raise InvalidInput(problems)
    return values
