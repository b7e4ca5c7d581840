from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from ostiary.db.base import Base, IdMixin, TimestampMixin


class Branding(IdMixin, TimestampMixin, Base):
    """The branding of one context (the root's is the instance's) or of one client."""

    __tablename__ = "brandings"
    __table_args__ = (
        CheckConstraint("(context_id IS NULL) <> (client_id IS NULL)", name="one_owner"),
    )

    context_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contexts.id", ondelete="CASCADE"), unique=True
    )
    client_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), unique=True
    )
    display_name: Mapped[str] = mapped_column(String(200))
    # "#rrggbb", lower case; None: the pages' own.
    primary_color: Mapped[str | None] = mapped_column(String(7))
    accent_color: Mapped[str | None] = mapped_column(String(7))
    support_url: Mapped[str | None] = mapped_column(String(500))
    # Language tag -> {"login_title": ..., "welcome": ..., "footer": ...}
    texts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The logo itself is loaded only where it is served.
    logo: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    logo_type: Mapped[str | None] = mapped_column(String(32))
    # SHA-256 of the logo, hex: its ETag and the version in its URL.
    logo_digest: Mapped[str | None] = mapped_column(String(64))
