"""What is wrong with an import file, row by row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ostiary import text
from ostiary.errors import OstiaryError, Refusal
from ostiary.text import Text

# Listed in an answer or a job; a file with more bad rows says how many more there were.
MAX_LISTED = 1000


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return (
            f"line {self.line}, {self.column}: {self.message}"
            if self.column
            else (f"line {self.line}: {self.message}")
        )

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.column, "message": self.message}

    def stored(self) -> dict[str, Any]:
        """``as_dict`` with the message's template and values, so that a page can show a
        stored problem in its own language (``from_stored``)."""
        message = text.of(self.message)
        values = {k: _jsonable(v) for k, v in message.values.items()}
        return self.as_dict() | {"template": message.template, "values": values}

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> RowProblem:
        template = stored.get("template")
        message = (
            Text(template, **stored.get("values", {}))
            if isinstance(template, str)
            else Text(stored["message"])
        )
        return cls(stored["line"], stored["field"], message)


def _jsonable(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


class InvalidFile(OstiaryError):
    """Rows of an import file break the rules; nothing was written."""

    kind = "invalid-file"
    status = 422
    title = "Invalid import file"

    def __init__(self, problems: Sequence[RowProblem], *, refusal: Refusal | None = None) -> None:
        self.problems = sorted(problems, key=lambda p: p.line)
        lines = len({p.line for p in self.problems})
        first = self.problems[0] if self.problems else None
        detail = f"{lines} bad row(s), nothing imported" + (f"; first: {first}" if first else "")
        super().__init__(detail, field=first.column if first else None, refusal=refusal)

    def extensions(self) -> dict[str, Any]:
        first = self.problems[0] if self.problems else None
        return {
            "field": self.field,
            "line": first.line if first else None,
            "errors": [p.as_dict() for p in self.problems[:MAX_LISTED]],
            "more_errors": max(0, len(self.problems) - MAX_LISTED) or None,
        }


class FileTooLarge(OstiaryError):
    kind = "file-too-large"
    status = 413
    title = "File too large"


class NotCsv(OstiaryError):
    kind = "unsupported-media-type"
    status = 415
    title = "Unsupported media type"
