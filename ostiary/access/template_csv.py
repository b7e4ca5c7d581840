"""ACL templates as CSV.

Columns: ``template`` (key), ``name``, ``context_types`` (space-separated, empty for all),
``module``, ``acl``, ``value`` (``true``/``false`` or text). One row per right value; a template
without any right has one row with the last three columns empty. Importing creates or replaces
each template named in the file (its rights become exactly the file's); other templates stay.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from ostiary.access.models import USER_PREFERENCES, AclTemplate, Module
from ostiary.access.templates import TemplateService
from ostiary.access.values import normalise
from ostiary.contexts.models import ContextType
from ostiary.db.session import OstiarySession
from ostiary.errors import FieldProblem, InvalidInput
from ostiary.text import Text

COLUMNS = ("template", "name", "context_types", "module", "acl", "value")
_TYPES = {str(t) for t in ContextType}


def export_csv(templates: Sequence[AclTemplate]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for template in sorted(templates, key=lambda t: t.key):
        types = " ".join(template.context_types)
        rights = sorted(template.rights, key=lambda r: (r.acl.module.key, r.acl.key))
        if not rights:
            writer.writerow([template.key, template.name, types, "", "", ""])
        for right in rights:
            writer.writerow(
                [
                    template.key,
                    template.name,
                    types,
                    right.acl.module.key,
                    right.acl.key,
                    right.value,
                ]
            )
    return out.getvalue()


@dataclass
class _Parsed:
    name: str
    context_types: list[str]
    line: int
    rights: dict[uuid.UUID, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportResult:
    created: list[str]
    updated: list[str]
    unchanged: list[str]


def import_csv(session: OstiarySession, service: TemplateService, text: str) -> ImportResult:
    """Check every row first; write nothing unless all rows are good."""
    problems: list[FieldProblem] = []
    parsed = _parse(session, text, problems)
    if problems:
        raise InvalidInput(problems)
    outcomes: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
    with session.atomic():
        for key, entry in parsed.items():
            _, outcome = service.put(
                key, name=entry.name, context_types=entry.context_types, rights=entry.rights
            )
            outcomes[outcome].append(key)
    return ImportResult(**outcomes)


def _parse(session: OstiarySession, text: str, problems: list[FieldProblem]) -> dict[str, _Parsed]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        problems.append(
            FieldProblem(
                Text("line {line}", line=1),
                Text("the header must be {columns}", columns=",".join(COLUMNS)),
            )
        )
        return {}
    modules = {m.key: {a.key: a for a in m.acls} for m in session.scalars(select(Module))}
    parsed: dict[str, _Parsed] = {}
    for row in reader:
        # The line the record ends on, which is where a quoted value spanning lines ends too.
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        place = Text("line {line}", line=line)
        if len(row) != len(COLUMNS):
            problems.append(
                FieldProblem(
                    place,
                    Text(
                        "expected {expected} columns, found {found}",
                        expected=len(COLUMNS),
                        found=len(row),
                    ),
                )
            )
            continue
        # Names and values are kept as written, as the API keeps them; handles are trimmed.
        key, name, types_cell, module_key, acl_key, value = row
        key, module_key, acl_key = key.strip(), module_key.strip(), acl_key.strip()
        types = types_cell.split()
        unknown = [t for t in types if t not in _TYPES]
        if not key or not name.strip():
            problems.append(FieldProblem(place, "template and name are required"))
            continue
        if unknown:
            problems.append(
                FieldProblem(
                    place, Text("unknown context type(s): {unknown}", unknown=", ".join(unknown))
                )
            )
            continue
        entry = parsed.setdefault(key, _Parsed(name, sorted(set(types)), line))
        if (entry.name, entry.context_types) != (name, sorted(set(types))):
            problems.append(
                FieldProblem(
                    place,
                    Text(
                        "template '{key}' has another name or context types on line {line}",
                        key=key,
                        line=entry.line,
                    ),
                )
            )
            continue
        if not module_key and not acl_key and not value.strip():
            continue
        acl = modules.get(module_key, {}).get(acl_key)
        if module_key not in modules:
            problems.append(FieldProblem(place, Text("no module with key '{key}'", key=module_key)))
        elif acl is None:
            problems.append(
                FieldProblem(
                    place,
                    Text(
                        "module '{module}' has no right '{acl}'",
                        module=module_key,
                        acl=acl_key,
                    ),
                )
            )
        elif acl.category == USER_PREFERENCES:
            problems.append(
                FieldProblem(place, Text("'{acl}' is a user preference, not a right", acl=acl_key))
            )
        elif acl.id in entry.rights:
            problems.append(
                FieldProblem(
                    place,
                    Text(
                        "'{module}.{acl}' appears twice in '{key}'",
                        module=module_key,
                        acl=acl_key,
                        key=key,
                    ),
                )
            )
        else:
            try:
                entry.rights[acl.id] = normalise(acl, value)
            except ValueError as exc:
                problems.append(
                    FieldProblem(
                        place,
                        Text(
                            "{module}.{acl}: {message}",
                            module=module_key,
                            acl=acl_key,
                            message=exc,
                        ),
                    )
                )
    return parsed
