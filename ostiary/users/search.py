"""Finding users with filters and keyset pagination.

Without a text filter, users come in username order. With one (``text``, ``username``,
``email`` or ``name``), they come in the order of the word that matched, walking the
``user_search_terms`` index; a user matching through several words appears once, under the
first of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select

from ostiary.access.models import GroupMember
from ostiary.contexts.models import Context
from ostiary.db.paths import prefix_range, within_paths
from ostiary.db.session import OstiarySession
from ostiary.users.models import (
    Membership,
    User,
    UserDomain,
    UserSearchTerm,
    UserStatus,
    search_terms,
)

# Which stored words each text filter searches.
TEXT_FIELDS = {
    "text": ("username", "email", "first_name", "last_name"),
    "username": ("username",),
    "email": ("email",),
    "name": ("first_name", "last_name"),
}


@dataclass(frozen=True)
class UserQuery:
    text: str | None = None
    username: str | None = None
    email: str | None = None
    name: str | None = None
    status: UserStatus | None = None
    domain_id: uuid.UUID | None = None
    context_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None
    # Subtrees the caller may see; None means everything.
    visible_paths: Sequence[str] | None = None
    # Where the previous page ended: a username, or "term\\0user id" for text searches.
    after: str | None = None
    limit: int = 50

    def text_filter(self) -> tuple[str, str] | None:
        """The text filter that drives the search, and its lower-cased needle."""
        for name in ("text", "username", "email", "name"):
            value = getattr(self, name)
            if value and value.strip():
                return name, value.strip().casefold()
        return None


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    # Pass back as ``after`` for the next page; None on the last page.
    next_after: str | None


def _filters(query: UserQuery, driver: str | None) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    columns = {"username": User.username, "email": User.email_key}
    for name in ("username", "email"):
        value = getattr(query, name)
        if value and value.strip() and name != driver:
            found.append(prefix_range(columns[name], value.strip().casefold()))
    if query.name and query.name.strip() and driver != "name":
        needle = query.name.strip().casefold()
        found.append(
            or_(prefix_range(User.first_name_key, needle), prefix_range(User.last_name_key, needle))
        )
    if query.status is not None:
        found.append(User.status == query.status)
    if query.domain_id is not None:
        found.append(User.domain_id == query.domain_id)
    if query.context_id is not None and driver is not None:
        found.append(
            exists().where(Membership.user_id == User.id, Membership.context_id == query.context_id)
        )
    if query.group_id is not None:
        found.append(
            exists().where(GroupMember.user_id == User.id, GroupMember.group_id == query.group_id)
        )
    visible = within_paths(Context.path, query.visible_paths)
    if visible is not None:
        found.append(
            exists()
            .where(Membership.user_id == User.id, Membership.context_id == Context.id)
            .where(visible)
        )
    return found


# Up to this many members, a context's users are found through its memberships and sorted;
# beyond, by walking usernames and probing each user's memberships (see ``build_query``).
MEMBERS_TO_SORT = 20_000


def build_query(query: UserQuery, *, big_context: bool = False) -> Select[tuple[User]]:
    """Username order (no text filter).

    Members of a context are read in one of two ways, and the database's planner cannot be
    trusted to choose: it estimates a context's size from statistics that know only the
    biggest contexts, and PostgreSQL then walks the username index for a context of a few
    thousand members, probing memberships for hundreds of thousands of users. So
    ``search_page`` counts the members first (``context_size``, an index-only count with a
    cap) and says which: a context that is not big has its members collected first (a
    materialized CTE, which no planner unfolds) and sorted; a big one is walked.
    """
    stmt = select(User).where(*_filters(query, None))
    if query.context_id is not None and big_context:
        stmt = stmt.where(
            exists().where(Membership.user_id == User.id, Membership.context_id == query.context_id)
        )
    elif query.context_id is not None:
        members = (
            select(Membership.user_id)
            .where(Membership.context_id == query.context_id)
            .cte("members")
            .prefix_with("MATERIALIZED")
        )
        stmt = stmt.join(members, members.c.user_id == User.id)
    if query.after is not None:
        stmt = stmt.where(User.username > query.after)
    # One more than a page, to know whether another page follows.
    return stmt.order_by(User.username).limit(query.limit + 1)


def _term_rows(
    query: UserQuery, driver: str, needle: str, after: tuple[str, uuid.UUID] | None, size: int
):  # type: ignore[no-untyped-def]
    stmt = (
        select(UserSearchTerm.term, User)
        .join(User, User.id == UserSearchTerm.user_id)
        .where(
            prefix_range(UserSearchTerm.term, needle), UserSearchTerm.field.in_(TEXT_FIELDS[driver])
        )
        .where(*_filters(query, driver))
    )
    if after is not None:
        stmt = stmt.where(
            or_(
                UserSearchTerm.term > after[0],
                and_(UserSearchTerm.term == after[0], UserSearchTerm.user_id > after[1]),
            )
        )
    return stmt.order_by(UserSearchTerm.term, UserSearchTerm.user_id).limit(size)


def _first_match(user: User, driver: str, needle: str) -> str | None:
    fields = TEXT_FIELDS[driver]
    matches = sorted(t for t, f in search_terms(user) if f in fields and t.startswith(needle))
    return matches[0] if matches else None


def search_page(session: OstiarySession, query: UserQuery) -> UserPage:
    found = query.text_filter()
    if found is None:
        big = query.context_id is not None and context_size(session, query.context_id) >= (
            MEMBERS_TO_SORT
        )
        users = list(session.scalars(build_query(query, big_context=big)).unique())
        if len(users) > query.limit:
            return UserPage(users[: query.limit], users[query.limit - 1].username)
        return UserPage(users, None)
    driver, needle = found
    after = _parse_after(query.after)
    users: list[User] = []
    page_end: str | None = None
    while True:
        batch = (
            session.execute(_term_rows(query, driver, needle, after, query.limit * 2))
            .unique()
            .all()
        )
        for term, user in batch:
            after = (term, user.id)
            # A user matching through several words is listed under the first of them only.
            if _first_match(user, driver, needle) == term:
                if len(users) == query.limit:  # one more exists: another page follows
                    return UserPage(users, page_end)
                users.append(user)
                page_end = f"{term}\0{user.id}"
        if len(batch) < query.limit * 2:
            return UserPage(users, None)


def context_size(session: OstiarySession, context_id: uuid.UUID) -> int:
    """The number of members of a context, counted up to ``MEMBERS_TO_SORT``."""
    capped = (
        select(Membership.user_id)
        .where(Membership.context_id == context_id)
        .limit(MEMBERS_TO_SORT)
        .subquery()
    )
    return session.scalar(select(func.count()).select_from(capped)) or 0


def search_users(session: OstiarySession, query: UserQuery) -> list[User]:
    return search_page(session, query).users


def _parse_after(after: str | None) -> tuple[str, uuid.UUID] | None:
    if after is None:
        return None
    term, sep, user_id = after.rpartition("\0")
    try:
        return (term, uuid.UUID(user_id)) if sep else None
    except ValueError:
        return None


def domain_id_by_name(session: OstiarySession, name: str) -> uuid.UUID | None:
    return session.scalars(select(UserDomain.id).where(UserDomain.name == name)).first()
