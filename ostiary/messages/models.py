from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ostiary.db.base import Base, IdMixin, TimestampMixin
from ostiary.db.types import utcnow


class MessageState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class MessageTemplate(IdMixin, TimestampMixin, Base):
    """A customised template: for the whole instance (no context) or for a context's subtree.

    Purposes and shipped defaults are not rows: they come with the package.
    """

    __tablename__ = "message_templates"
    __table_args__ = (
        UniqueConstraint("purpose", "language", "channel", "context_id"),
        # NULLs are distinct in a unique constraint: one instance template per key here.
        Index(
            "ix_message_templates_instance_key",
            "purpose",
            "language",
            "channel",
            unique=True,
            sqlite_where=text("context_id IS NULL"),
            postgresql_where=text("context_id IS NULL"),
        ),
    )

    purpose: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(35))
    channel: Mapped[str] = mapped_column(String(8))
    context_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contexts.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str | None] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)


class Message(IdMixin, Base):
    """One message in the outbox.

    A message is ``pending`` until sent or given up. While a worker sends it, ``claimed_until``
    holds its lease: a claim that outlives it (the worker died) makes the message due again.
    Ids are time-ordered (UUIDv7). The rendered parts and the full address are personal data:
    they are kept only while the message is pending, or when it went to the local outbox.
    """

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_state_due_at", "state", "due_at"),)

    purpose: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(35))
    recipient: Mapped[str] = mapped_column(String(320))
    # The sender's display name from the branding the message carries (None: as configured).
    sender_name: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    context_id: Mapped[uuid.UUID | None] = mapped_column()
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=MessageState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column()
    claim_token: Mapped[uuid.UUID | None] = mapped_column()
    # Where it went: smtp, sms-gateway or outbox.
    transport: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    failed_at: Mapped[datetime | None] = mapped_column()
