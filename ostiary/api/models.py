"""Answers kept for ``Idempotency-Key`` (see ``ostiary.api.idempotency``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ostiary.db.base import Base


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"

    caller_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # SHA-256 of the method, path and body of the first request.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # None while the first request is still being answered.
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
