"""Requests to be let in: a new organization with its contact person, or a person joining an
existing organization. Both wait for someone's approval unless a rule approves them at once."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ostiary.db.base import Base, IdMixin
from ostiary.db.types import binary_string, utcnow


class RegistrationKind(enum.StrEnum):
    ORGANIZATION = "organization"
    JOIN = "join"


class RegistrationState(enum.StrEnum):
    # The person has yet to prove their e-mail address (and phone number, when given).
    UNVERIFIED = "unverified"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    # Taken back by the person who asked (or ended by their deletion) before a decision.
    WITHDRAWN = "withdrawn"


class Registration(IdMixin, Base):
    __tablename__ = "registrations"

    kind: Mapped[str] = mapped_column(String(16), index=True)
    state: Mapped[str] = mapped_column(String(16), default=RegistrationState.UNVERIFIED, index=True)
    # The new organization (pending until approved), or the one to join. Rejecting a new
    # organization closes it, so the row always has one.
    context_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contexts.id", ondelete="CASCADE"), index=True
    )
    # Whether the registration made its organization (rather than finding one the CRM had
    # made first): what an expired registration takes away with it.
    made_context: Mapped[bool] = mapped_column(default=False)
    # The registrant: a draft account until approved; gone once a rejection discards it.
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # What was asked, kept for the record after the account is discarded.
    organization_name: Mapped[str] = mapped_column(String(200))
    number: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(binary_string(320), index=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    email_verified_at: Mapped[datetime | None] = mapped_column()
    phone_verified_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # Who or what decided: a person's name, or the rule that approved it at once.
    decided_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
