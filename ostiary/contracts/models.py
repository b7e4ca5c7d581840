"""Contracts of accounts, as the CRM keeps them."""

from __future__ import annotations

import enum
import uuid
from datetime import date

from sqlalchemy import ColumnElement, Date, ForeignKey, String, and_, or_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ostiary.contexts.models import Context
from ostiary.db.base import Base, IdMixin, TimestampMixin


class ContractStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"


STOPPED = frozenset({ContractStatus.ENDED, ContractStatus.CANCELLED})


class Contract(IdMixin, TimestampMixin, Base):
    __tablename__ = "contracts"

    external_id: Mapped[str] = mapped_column(String(100), unique=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contexts.id", ondelete="RESTRICT"), index=True
    )
    product: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    # The day the status became ended or cancelled: from then on it no longer runs.
    stopped_on: Mapped[date | None] = mapped_column(Date)

    account: Mapped[Context] = relationship(lazy="joined")

    def running_on(self, day: date) -> bool:
        return (
            self.status == ContractStatus.ACTIVE
            and self.starts_on <= day
            and (self.ends_on is None or day <= self.ends_on)
        )

    def last_running_day(self, today: date) -> date | None:
        """The last day it ran (or could have), once it has stopped; None while it runs or
        has yet to start."""
        if self.status in STOPPED:
            stopped = self.stopped_on or self.ends_on or today
            before = date.fromordinal(stopped.toordinal() - 1)
            return min(before, self.ends_on) if self.ends_on else before
        if self.status == ContractStatus.ACTIVE and self.ends_on and self.ends_on < today:
            return self.ends_on
        return None


def running_on(day: date) -> ColumnElement[bool]:
    """The SQL form of ``Contract.running_on``."""
    return and_(
        Contract.status == ContractStatus.ACTIVE,
        Contract.starts_on <= day,
        or_(Contract.ends_on.is_(None), Contract.ends_on >= day),
    )
