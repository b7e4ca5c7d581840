"""A user as the admin API shows them, read with one Core statement.

Reading a user by id is what policy enforcement points and CRMs do most. Through the ORM it is
an identity-mapped load and a second statement for the contexts that decide the caller's
reach; here the user, their domain's name and their contexts come back as rows of one indexed
statement, and ``UserOut`` is built from them without an ORM object.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from ostiary.access.subjects import ContextRef
from ostiary.contexts.models import Context
from ostiary.users.models import Membership, User, UserDomain
from ostiary.users.schemas import UserOut


@dataclass(frozen=True)
class UserReading:
    user: UserOut
    # In tree order; they decide whether the user is in a caller's reach.
    contexts: Sequence[ContextRef]


_USER_WITH_CONTEXTS = (
    select(
        User.id,
        User.username,
        UserDomain.name.label("domain"),
        User.status,
        User.email,
        User.email_verified,
        User.phone,
        User.first_name,
        User.last_name,
        User.language,
        User.two_factor,
        User.password_hash.is_not(None).label("has_password"),
        User.service_account,
        User.first_login_at,
        User.last_login_at,
        User.created_at,
        User.updated_at,
        User.deleted_at,
        Context.id.label("context_id"),
        Context.parent_id.label("context_parent_id"),
        Context.path.label("context_path"),
        Context.type.label("context_type"),
        Context.has_access_policy.label("context_has_access_policy"),
    )
    .join(UserDomain, UserDomain.id == User.domain_id)
    .outerjoin(Membership, Membership.user_id == User.id)
    .outerjoin(Context, Context.id == Membership.context_id)
    .where(User.id == bindparam("id"))
    .order_by(Context.path)
)
_USER_FIELDS = tuple(UserOut.model_fields)


def read_user(connection: Connection, user_id: uuid.UUID) -> UserReading | None:
    rows = connection.execute(_USER_WITH_CONTEXTS, {"id": user_id}).all()
    if not rows:
        return None
    first = rows[0]._mapping
    user = UserOut.model_validate({name: first[name] for name in _USER_FIELDS})
    contexts = [
        ContextRef(
            row.context_id,
            row.context_parent_id,
            row.context_path,
            row.context_type,
            row.context_has_access_policy,
        )
        for row in rows
        if row.context_id is not None
    ]
    return UserReading(user, contexts)
