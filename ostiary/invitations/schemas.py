from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SkipValidation
from sqlalchemy import select
from sqlalchemy.orm import Session

from ostiary.db.types import utcnow
from ostiary.invitations.erasure import of_person
from ostiary.invitations.models import Invitation, InvitationState
from ostiary.users.schemas import Email, Language, Name, Phone
from ostiary.webhooks.renderers import register, target_uuid

MAX_GROUPS = 50


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    context_id: uuid.UUID = Field(description="The context the person is invited into.")
    email: Email
    groups: list[str] = Field(
        default_factory=list,
        max_length=MAX_GROUPS,
        description="Groups of that context to join, each by id or by name.",
    )
    message: str | None = Field(
        None, max_length=2000, description="The inviter's own words, shown in the e-mail."
    )
    language: Language | None = Field(
        None, description="Language of the e-mail (else the invitee's, else the default)."
    )
    lead: bool = Field(False, description="On acceptance, join the context's group 'lead'.")
    as_administrator: bool | None = Field(
        None,
        description="On acceptance, join the context's 'Administrators' group made from the "
        "account-administrator template. Omitted: true for the first invitation into a context "
        "without members (none pending as administrator), unless it is a lead's or the inviter "
        "could not grant the template's rights.",
    )
    expires_in_days: int | None = Field(
        None, ge=1, le=90, description="Days the link works (default OSTIARY_INVITATION_DAYS)."
    )


class InvitationBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[Any] = Field(
        description="Invitations as for POST /invitations, each checked on its own."
    )


class GroupRef(BaseModel):
    id: uuid.UUID
    name: str


class InvitationOut(BaseModel):
    id: uuid.UUID
    context_id: uuid.UUID
    email: str
    state: InvitationState
    groups: list[GroupRef]
    message: str | None
    language: str | None
    lead: bool
    as_administrator: bool
    inviter: str
    inviter_id: uuid.UUID | None
    created_at: datetime
    sent_at: datetime
    sent_count: int
    expires_at: datetime
    accepted_at: datetime | None
    accepted_user_id: uuid.UUID | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, invitation: Invitation, now: datetime) -> InvitationOut:
        return cls(
            id=invitation.id,
            context_id=invitation.context_id,
            email=invitation.email,
            state=invitation.state(now),
            groups=[GroupRef(id=g.id, name=g.name) for g in invitation.groups],
            message=invitation.message,
            language=invitation.language,
            lead=invitation.lead,
            as_administrator=invitation.as_administrator,
            inviter=invitation.inviter_name,
            inviter_id=invitation.inviter_id,
            created_at=invitation.created_at,
            sent_at=invitation.sent_at,
            sent_count=invitation.sent_count,
            expires_at=invitation.expires_at,
            accepted_at=invitation.accepted_at,
            accepted_user_id=invitation.accepted_by_id,
            revoked_at=invitation.revoked_at,
        )


class EntryError(BaseModel):
    type: str
    status: int
    # Kept as the service wrote it, so that a page shows it in its language (ostiary.text).
    detail: Annotated[str, SkipValidation]
    field: str | None = None


class EntryResult(BaseModel):
    index: int
    outcome: Literal["created", "failed"]
    id: uuid.UUID | None = None
    error: EntryError | None = None


class BatchOut(BaseModel):
    created: int
    failed: int
    results: list[EntryResult]


class AccountSetup(BaseModel):
    """What a new person gives when accepting: their name, password, phone and language."""

    first_name: Name
    last_name: Name
    password: str = Field(max_length=1024)
    confirmation: str = Field(max_length=1024)
    phone: Phone | None = None
    language: Language | None = None


def _render(session: Session, target_id: str) -> dict[str, Any] | None:
    """The invitation as the API shows it: never its link or token."""
    invitation = session.get(Invitation, target_uuid(target_id))
    return InvitationOut.of(invitation, utcnow()).model_dump(mode="json") if invitation else None


def _personal(session: Session, user_id: uuid.UUID, email_key: str | None) -> list[str]:
    return [
        str(i) for i in session.scalars(select(Invitation.id).where(of_person(user_id, email_key)))
    ]


register("invitation", _render, personal=_personal)
