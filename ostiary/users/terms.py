"""Keeps ``user_search_terms`` in step with users, in the flush that changes them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import delete, event, insert, inspect
from sqlalchemy.orm import Session, UOWTransaction

from ostiary.users.models import User, UserSearchTerm, search_terms

_WATCHED = ("username", "email_key", "first_name_key", "last_name_key", "status")


def _rows(user_id: uuid.UUID, found: set[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"term": term, "user_id": user_id, "field": field} for term, field in sorted(found)]


def term_rows(user: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The search-term rows of a user given by its column values (bulk writes of users)."""
    return _rows(user["id"], search_terms(cast(User, SimpleNamespace(**user))))


def _changed(user: User) -> bool:
    state = inspect(user)
    return any(state.attrs[name].history.has_changes() for name in _WATCHED)


@event.listens_for(Session, "after_flush")
def _sync_terms(session: Session, _flush: UOWTransaction) -> None:
    users = [obj for obj in session.new if isinstance(obj, User)]
    users += [obj for obj in session.dirty if isinstance(obj, User) and _changed(obj)]
    connection = session.connection()
    for user in users:
        connection.execute(delete(UserSearchTerm).where(UserSearchTerm.user_id == user.id))
        rows = _rows(user.id, search_terms(user))
        if rows:
            connection.execute(insert(UserSearchTerm), rows)
