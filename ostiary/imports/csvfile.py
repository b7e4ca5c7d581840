"""Reading an import file: UTF-8 (with or without BOM), ``,`` or ``;`` between fields, quoted
fields as in RFC 4180, a header row naming the columns."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ostiary.imports.problems import InvalidFile, RowProblem
from ostiary.text import Text

COLUMNS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "phone",
    "language",
    "domain",
    "status",
    "context",
    "groups",
    "password_hash",
    "invite",
    "email_verified",
)
REQUIRED = ("username", "context")


@dataclass(frozen=True, slots=True)
class RawRow:
    line: int
    cells: dict[str, str]
    # Why the row cannot be read column by column (a wrong number of fields), if it cannot.
    malformed: str | None = None


@dataclass(frozen=True)
class CsvFile:
    sha256: str
    columns: tuple[str, ...]
    rows: list[RawRow]


def read_csv(data: bytes) -> CsvFile:
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidFile([RowProblem(line, "", "the file is not UTF-8")]) from None
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidFile([RowProblem(1, "", "the file is empty; it needs a header row")])
        columns = _columns(header)
        rows = list(_rows(reader, columns))
    except csv.Error as exc:
        raise InvalidFile(
            [RowProblem(reader.line_num, "", Text("not a CSV file: {exc}", exc=exc))]
        ) from None
    return CsvFile(sha256, columns, rows)


def _columns(header: list[str]) -> tuple[str, ...]:
    names = tuple(name.strip().lower() for name in header)
    problems = [
        RowProblem(
            1,
            name or f"column {i + 1}",
            Text("unknown column (known: {columns})", columns=", ".join(COLUMNS)),
        )
        for i, name in enumerate(names)
        if name not in COLUMNS
    ]
    problems += [
        RowProblem(1, name, "the column appears twice")
        for i, name in enumerate(names)
        if name in names[:i] and name in COLUMNS
    ]
    problems += [
        RowProblem(1, name, "the header lacks this required column")
        for name in REQUIRED
        if name not in names
    ]
    if problems:
        raise InvalidFile(problems)
    return names


def _rows(reader: Any, columns: tuple[str, ...]) -> Iterator[RawRow]:
    line = 2  # the line a row starts on; a quoted field may span lines
    for cells in reader:
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            yield RawRow(start, {}, f"has {len(cells)} fields, the header {len(columns)}")
            continue
        yield RawRow(start, {name: cell.strip() for name, cell in zip(columns, cells, strict=True)})
