"""Opaque cursors for keyset pagination."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from typing import Generic, TypeVar

from pydantic import BaseModel

from ostiary.errors import OstiaryError

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class InvalidCursor(OstiaryError):
    kind = "invalid-cursor"
    status = 400
    title = "Invalid cursor"


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (ValueError, KeyError, TypeError):
        raise InvalidCursor("the cursor is not one this server gave out", field="cursor") from None
    if not isinstance(value, str):
        raise InvalidCursor("the cursor is not one this server gave out", field="cursor")
    return value


def next_cursor(rows: Sequence[object], limit: int, key: str) -> str | None:
    """A cursor after the last row when the page is full (there may be more)."""
    if len(rows) < limit:
        return None
    return encode_cursor(str(getattr(rows[-1], key)))


def decode_id_cursor(cursor: str | None) -> uuid.UUID | None:
    """The id a page of newest-first, id-ordered results continues before."""
    after = decode_cursor(cursor)
    try:
        return uuid.UUID(after) if after else None
    except ValueError:
        raise InvalidCursor("the cursor is not one this server gave out", field="cursor") from None
