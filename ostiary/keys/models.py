from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ostiary.db.base import Base, IdMixin
from ostiary.db.types import utcnow


class SigningKey(IdMixin, Base):
    """One key pair. It is published from ``created_at``, signs from ``active_from`` until a
    newer key takes over (``retired_at``), and stays published until ``unpublish_at``, when
    every token it signed has expired."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(16))
    # The private JWK, encrypted with the server's secret key (never stored in clear).
    private_jwk_encrypted: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active_from: Mapped[datetime] = mapped_column()
    retired_at: Mapped[datetime | None] = mapped_column()
    unpublish_at: Mapped[datetime | None] = mapped_column()
