from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ostiary.db.base import Base, IdMixin, TimestampMixin


class ImportStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class UserImport(IdMixin, TimestampMixin, Base):
    """One import of a CSV file: its checkpoint (rows done) moves with each chunk it commits,
    so that a run of the same file (by SHA-256) after an interruption continues from there."""

    __tablename__ = "user_imports"
    __table_args__ = (Index("ix_user_imports_file_sha256_status", "file_sha256", "status"),)

    file_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.RUNNING)
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    actor: Mapped[str] = mapped_column(String(200))
    skip_invalid: Mapped[bool] = mapped_column(default=False)
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_done: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    invalid: Mapped[int] = mapped_column(default=0)
    # Rows skipped as invalid (with --skip-invalid), or why the import failed.
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    finished_at: Mapped[datetime | None] = mapped_column()
