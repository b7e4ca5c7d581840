"""What registrations and join requests keep of a person, erased when that person is deleted.

The rows stay for the record (ids, kind, state, organization, times); the address, names and
phone number do not. A request still waiting is withdrawn: nobody is left to admit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, select

from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.messages.services import ERASED
from ostiary.registrations.models import Registration, RegistrationState


def of_person(user_id: uuid.UUID, email_key: str | None) -> ColumnElement[bool]:
    """Registrations that keep a person's details: theirs, or made with the address they
    had."""
    condition = Registration.user_id == user_id
    if email_key:
        condition = condition | (Registration.email_key == email_key)
    return condition


def forget_person(
    session: OstiarySession, user_id: uuid.UUID, email_key: str | None, new_label: str
) -> Sequence[uuid.UUID]:
    """In the deletion's transaction: the ids of the registrations whose details were erased.
    Those the person decided name them by their new label."""
    now = utcnow()
    rows = session.scalars(select(Registration).where(of_person(user_id, email_key))).all()
    for row in rows:
        if row.state in (RegistrationState.UNVERIFIED, RegistrationState.PENDING):
            row.state = RegistrationState.WITHDRAWN
            row.decided_at = now
            row.decided_by = new_label
        row.email = row.email_key = ERASED
        row.first_name = row.last_name = row.phone = None
    for decided in session.scalars(
        select(Registration).where(Registration.decided_by_id == user_id)
    ):
        decided.decided_by = new_label
    return [row.id for row in rows]
