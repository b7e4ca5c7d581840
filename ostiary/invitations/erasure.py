"""What invitations keep of a person, erased when that person is deleted.

The rows stay for the record (ids, states, times, groups); the invitee's address and the
inviter's words to them do not. One still pending is revoked: it was for someone who is gone,
and its link, used up, says that it was withdrawn.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, select

from ostiary.authn.models import OneTimeToken
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.invitations.models import Invitation, InvitationStatus
from ostiary.messages.services import ERASED


def of_person(user_id: uuid.UUID, email_key: str | None) -> ColumnElement[bool]:
    """Invitations that keep a person's address: to the address they had, or accepted by
    them."""
    condition = Invitation.accepted_by_id == user_id
    if email_key:
        condition = condition | (Invitation.email_key == email_key)
    return condition


def forget_person(
    session: OstiarySession, user_id: uuid.UUID, email_key: str | None, new_label: str | None
) -> Sequence[uuid.UUID]:
    """In the deletion's transaction: the ids of the invitations whose address was erased.
    Invitations the person sent name them by ``new_label`` instead (None: a client's service
    account, whose invitations name the client, which is no one's personal data)."""
    now = utcnow()
    rows = session.scalars(select(Invitation).where(of_person(user_id, email_key))).all()
    for row in rows:
        if row.status == InvitationStatus.PENDING:
            row.status = InvitationStatus.REVOKED
            row.revoked_at = now
            token = session.get(OneTimeToken, row.token_id) if row.token_id else None
            if token is not None and token.used_at is None:
                token.used_at = now
        row.email = row.email_key = ERASED
        row.pending_key = None
        row.message = None
    if new_label is not None:
        for sent in session.scalars(select(Invitation).where(Invitation.inviter_id == user_id)):
            sent.inviter_name = new_label
    return [row.id for row in rows]
