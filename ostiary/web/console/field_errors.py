"""Problems of a form's input, each put next to the field it is about: a service's
``InvalidInput`` (or a schema's ``ValidationError``) names places such as ``redirect_uris[2]``;
a page shows one message per field, the line of a list field in front."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pydantic import ValidationError

from ostiary import text
from ostiary.errors import FieldProblem, InvalidInput, OstiaryError
from ostiary.text import Text

_PLACE = re.compile(r"^(?P<name>[A-Za-z_]+)(?:\[(?P<index>\d+)\])?")


def by_field(
    problems: Iterable[FieldProblem], renamed: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The first problem of each form field; ``renamed`` maps a schema's names to the form's."""
    errors: dict[str, str] = {}
    for problem in problems:
        found = _PLACE.match(problem.field or "")
        name = found.group("name") if found else ""
        name = (renamed or {}).get(name, name)
        message: str = problem.text
        if found and found.group("index") is not None:
            message = Text(
                "line {line}: {message}", line=int(found.group("index")) + 1, message=message
            )
        errors.setdefault(name, message)
    return errors


def of_error(exc: OstiaryError, renamed: Mapping[str, str] | None = None) -> dict[str, str]:
    """A service's refusal of the input by field; empty when it names no field."""
    if isinstance(exc, InvalidInput):
        return by_field(exc.problems, renamed)
    if exc.field is None:
        return {}
    return by_field([FieldProblem(exc.field, exc.text)], renamed)


def of_validation(exc: ValidationError, renamed: Mapping[str, str] | None = None) -> dict[str, str]:
    """A schema's refusal by field: the first step of each place names the field."""
    problems = []
    for e in exc.errors():
        loc = e["loc"]
        place = str(loc[0]) if loc else ""
        if len(loc) > 1 and isinstance(loc[1], int):
            place += f"[{loc[1]}]"
        problems.append(FieldProblem(place, text.of_schema(e)))
    return by_field(problems, renamed)
