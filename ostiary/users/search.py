"""Finding users with filters and keyset pagination (ordered by username)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, exists, or_, select

from ostiary.contexts.models import Context
from ostiary.db.paths import prefix_range, within_paths
from ostiary.db.session import OstiarySession
from ostiary.users.models import Membership, User, UserDomain, UserStatus


@dataclass(frozen=True)
class UserQuery:
    text: str | None = None
    username: str | None = None
    email: str | None = None
    name: str | None = None
    status: UserStatus | None = None
    domain_id: uuid.UUID | None = None
    context_id: uuid.UUID | None = None
    # Subtrees the caller may see; None means everything.
    visible_paths: Sequence[str] | None = None
    after_username: str | None = None
    limit: int = 50


def _name_match(needle: str):  # type: ignore[no-untyped-def]
    return or_(prefix_range(User.first_name_key, needle), prefix_range(User.last_name_key, needle))


def build_query(query: UserQuery) -> Select[tuple[User]]:
    stmt = select(User)
    if query.text:
        needle = query.text.strip().casefold()
        stmt = stmt.where(
            or_(
                prefix_range(User.username, needle),
                prefix_range(User.email_key, needle),
                _name_match(needle),
            )
        )
    if query.username:
        stmt = stmt.where(prefix_range(User.username, query.username.strip().lower()))
    if query.email:
        stmt = stmt.where(prefix_range(User.email_key, query.email.strip().casefold()))
    if query.name:
        stmt = stmt.where(_name_match(query.name.strip().casefold()))
    if query.status is not None:
        stmt = stmt.where(User.status == query.status)
    if query.domain_id is not None:
        stmt = stmt.where(User.domain_id == query.domain_id)
    if query.context_id is not None:
        stmt = stmt.join(Membership, Membership.user_id == User.id).where(
            Membership.context_id == query.context_id
        )
    visible = within_paths(Context.path, query.visible_paths)
    if visible is not None:
        stmt = stmt.where(
            exists()
            .where(Membership.user_id == User.id, Membership.context_id == Context.id)
            .where(visible)
        )
    if query.after_username is not None:
        stmt = stmt.where(User.username > query.after_username)
    return stmt.order_by(User.username).limit(query.limit)


def search_users(session: OstiarySession, query: UserQuery) -> Sequence[User]:
    return session.scalars(build_query(query)).unique().all()


def domain_id_by_name(session: OstiarySession, name: str) -> uuid.UUID | None:
    return session.scalars(select(UserDomain.id).where(UserDomain.name == name)).first()
