from __future__ import annotations

import enum
import uuid
from datetime import date

from sqlalchemy import Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ostiary.db.base import Base, IdMixin, TimestampMixin
from ostiary.db.types import binary_string


class ContextType(enum.StrEnum):
    ROOT = "root"
    TENANT = "tenant"
    ACCOUNT = "account"
    CUSTOMER = "customer"


class ContextStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class SuspensionReason(enum.StrEnum):
    """Who suspended a context: the contract lifecycle lifts only its own suspensions."""

    CONTRACT = "contract"
    ADMINISTRATOR = "administrator"


# Which parent types each type may sit under. Sub-accounts are accounts under accounts.
ALLOWED_PARENTS: dict[ContextType, frozenset[ContextType]] = {
    ContextType.ROOT: frozenset(),
    ContextType.TENANT: frozenset({ContextType.ROOT}),
    ContextType.ACCOUNT: frozenset({ContextType.ROOT, ContextType.TENANT, ContextType.ACCOUNT}),
    ContextType.CUSTOMER: frozenset({ContextType.ACCOUNT}),
}


class Context(IdMixin, TimestampMixin, Base):
    __tablename__ = "contexts"
    __table_args__ = (
        Index(
            "ix_contexts_single_root",
            "type",
            unique=True,
            sqlite_where=text("type = 'root'"),
            postgresql_where=text("type = 'root'"),
        ),
    )

    key: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(binary_string(200), index=True)
    number: Mapped[str | None] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ContextStatus.ACTIVE)
    # Set while suspended: a SuspensionReason.
    suspended_by: Mapped[str | None] = mapped_column(String(16))
    # The day an administrator last reactivated it: contracts that ended before do not
    # suspend it again.
    reactivated_on: Mapped[date | None] = mapped_column(Date)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contexts.id", ondelete="RESTRICT"), index=True
    )
    # Ids from the root down to this context, "/"-separated and ending in "/": the subtree of
    # a context is every row whose path starts with its path.
    path: Mapped[str] = mapped_column(binary_string(1200), index=True)
    email_domains: Mapped[list[str]] = mapped_column(default=list)
    # Whether policy_rights caps rights here; a policy may exist and grant nothing.
    has_access_policy: Mapped[bool] = mapped_column(default=False)

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    def ancestor_ids(self) -> list[uuid.UUID]:
        """Ids from the root down to and including this context."""
        return [uuid.UUID(part) for part in self.path.strip("/").split("/")]
