from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ostiary.contexts.schemas import _email_domains
from ostiary.registrations.erasure import of_person
from ostiary.registrations.models import Registration, RegistrationKind, RegistrationState
from ostiary.webhooks.renderers import register, target_uuid


class OrganizationFields(BaseModel):
    """The organization a person registers, besides their own details."""

    organization: str = Field(min_length=1, max_length=200)
    number: str | None = Field(None, min_length=1, max_length=100)
    email_domains: list[str] = Field(default_factory=list)

    @field_validator("email_domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        return _email_domains(values)


class JoinAsk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization: str = Field(
        min_length=1,
        max_length=200,
        description="The organization's customer number or exact name.",
    )


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groups: list[str] = Field(
        default_factory=list,
        description="Ids or names of groups of the organization the person joins as well "
        "(join requests only); each must hold nothing the approver could not grant.",
    )


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class RegistrationOut(BaseModel):
    id: uuid.UUID
    kind: RegistrationKind
    state: RegistrationState
    context_id: uuid.UUID
    user_id: uuid.UUID | None
    organization: str
    number: str | None
    email: str
    first_name: str | None
    last_name: str | None
    phone: str | None
    email_verified_at: datetime | None
    phone_verified_at: datetime | None
    created_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None

    @classmethod
    def of(cls, row: Registration) -> RegistrationOut:
        return cls(
            id=row.id,
            kind=RegistrationKind(row.kind),
            state=RegistrationState(row.state),
            context_id=row.context_id,
            user_id=row.user_id,
            organization=row.organization_name,
            number=row.number,
            email=row.email,
            first_name=row.first_name,
            last_name=row.last_name,
            phone=row.phone,
            email_verified_at=row.email_verified_at,
            phone_verified_at=row.phone_verified_at,
            created_at=row.created_at,
            submitted_at=row.submitted_at,
            decided_at=row.decided_at,
            decided_by=row.decided_by,
            reason=row.reason,
        )


def _render(session: Session, target_id: str) -> dict[str, Any] | None:
    row = session.get(Registration, target_uuid(target_id))
    return RegistrationOut.of(row).model_dump(mode="json") if row is not None else None


def _personal(session: Session, user_id: uuid.UUID, email_key: str | None) -> list[str]:
    return [
        str(r)
        for r in session.scalars(select(Registration.id).where(of_person(user_id, email_key)))
    ]


register("registration", _render, personal=_personal)
