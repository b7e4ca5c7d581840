from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ostiary.access.models import UserGroup
from ostiary.db.base import Base, IdMixin
from ostiary.db.types import binary_string, utcnow


class InvitationStatus(enum.StrEnum):
    """What is stored; ``expired`` is derived from the expiry time of a pending one."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"


class InvitationState(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    REVOKED = "revoked"


invitation_groups = Table(
    "invitation_groups",
    Base.metadata,
    Column(
        "invitation_id",
        ForeignKey("invitations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("group_id", ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True),
)


class Invitation(IdMixin, Base):
    """An e-mail address invited into a context, with the groups it will join there."""

    __tablename__ = "invitations"
    __table_args__ = (
        # At most one live invitation per address and context: ``pending_key`` is the address
        # while the invitation is pending, and is cleared when it is accepted, revoked, or
        # replaced after expiring.
        UniqueConstraint("context_id", "pending_key"),
    )

    context_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contexts.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(binary_string(320), index=True)
    pending_key: Mapped[str | None] = mapped_column(binary_string(320))
    status: Mapped[str] = mapped_column(String(16), default=InvitationStatus.PENDING)
    message: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    lead: Mapped[bool] = mapped_column(default=False)
    as_administrator: Mapped[bool] = mapped_column(default=False)
    days: Mapped[int] = mapped_column()
    inviter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    inviter_name: Mapped[str] = mapped_column(String(200))
    # The link's one-time token (only its hash is stored there); a new one on every re-send.
    token_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("one_time_tokens.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_count: Mapped[int] = mapped_column(default=1)
    expires_at: Mapped[datetime] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column()
    accepted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column()

    groups: Mapped[list[UserGroup]] = relationship(secondary=invitation_groups, lazy="selectin")

    def state(self, now: datetime) -> InvitationState:
        if self.status == InvitationStatus.PENDING and self.expires_at <= now:
            return InvitationState.EXPIRED
        return InvitationState(self.status)
