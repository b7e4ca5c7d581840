from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ostiary.authn.factors.models import SentCodeMixin
from ostiary.db.base import Base, IdMixin, TimestampMixin
from ostiary.db.types import binary_string, utcnow


class DomainKind(enum.StrEnum):
    LOCAL = "local"
    DELEGATED = "delegated"


class UserStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    INACTIVE = "inactive"
    DELETED = "deleted"


class TwoFactor(enum.StrEnum):
    INHERIT = "inherit"
    DISABLED = "disabled"
    SMS = "sms"
    EMAIL = "email"
    SMS_EMAIL = "sms+email"


class UserDomain(IdMixin, TimestampMixin, Base):
    """A category of users: local or delegated, and which context types its users may join."""

    __tablename__ = "user_domains"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=DomainKind.LOCAL)
    context_types: Mapped[list[str]] = mapped_column()


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        # Keyset pagination sorts by username; these serve the common filters with that order.
        Index("ix_users_status_username", "status", "username"),
        Index("ix_users_domain_id_username", "domain_id", "username"),
    )

    username: Mapped[str] = mapped_column(binary_string(150), unique=True)
    domain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_domains.id"))
    status: Mapped[str] = mapped_column(String(16), default=UserStatus.DRAFT)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    # Lower-cased copies for case-insensitive uniqueness and prefix search. Deleted users have
    # none, so that their former address can be used again.
    email_key: Mapped[str | None] = mapped_column(binary_string(320), unique=True)
    # Whether the address was proven to be the user's: a code or link sent to it came back
    # (registration, an invitation's link, a change on /account), or the CRM or an
    # administrator vouched for it. A new address that was not proven clears it.
    email_verified: Mapped[bool] = mapped_column(default=False)
    first_name_key: Mapped[str | None] = mapped_column(binary_string(100), index=True)
    last_name_key: Mapped[str | None] = mapped_column(binary_string(100), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(35))
    two_factor: Mapped[str] = mapped_column(String(16), default=TwoFactor.INHERIT)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Changes whenever credentials or status change; sessions and tokens carry it and die with it.
    security_stamp: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    first_login_at: Mapped[datetime | None] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column()
    # The identity of a client's client_credentials tokens (see ostiary.clients.service_accounts):
    # no password, no interactive login, rights through memberships and groups like anyone's.
    service_account: Mapped[bool] = mapped_column(default=False)

    domain: Mapped[UserDomain] = relationship(lazy="joined", innerjoin=True)
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    external_identities: Mapped[list[ExternalIdentity]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def delegated(self) -> bool:
        """Whether the user's identity comes from an external identity provider."""
        return self.domain.kind == DomainKind.DELEGATED


class Membership(Base):
    """A user belongs to a context."""

    __tablename__ = "memberships"
    __table_args__ = (Index("ix_memberships_context_id_user_id", "context_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    context_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")


class ExternalIdentity(IdMixin, Base):
    """The user as an external identity provider knows them (IdP and subject)."""

    __tablename__ = "external_identities"
    __table_args__ = (UniqueConstraint("idp", "subject"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    idp: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="external_identities")


class ContactField(enum.StrEnum):
    """What a user verifies before it is theirs."""

    EMAIL = "email"
    PHONE = "phone"


class ContactVerification(SentCodeMixin, Base):
    """A new e-mail address or phone number of a user, waiting for the code sent to it (and,
    for an address, the link). The profile changes only when it is verified."""

    __tablename__ = "contact_verifications"
    __table_args__ = (Index("ix_contact_verifications_user_id_field", "user_id", "field"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(8))
    new_value: Mapped[str] = mapped_column(String(320))
    # The one-time token of the link in the e-mail; none for a phone number.
    link_token_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("one_time_tokens.id", ondelete="SET NULL")
    )


class UserSearchTerm(Base):
    """One searchable word of a user (username, e-mail, first or last name), lower-cased.

    Prefix searches walk this index in term order, so a common prefix costs no more than a
    rare one: no sorting of every match.
    """

    __tablename__ = "user_search_terms"
    __table_args__ = (Index("ix_user_search_terms_user_id", "user_id"),)

    term: Mapped[str] = mapped_column(binary_string(320), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(String(16), primary_key=True)


SEARCH_FIELDS = ("username", "email", "first_name", "last_name")


def search_terms(user: User) -> set[tuple[str, str]]:
    """(term, field) pairs a user is found by; deleted users by nothing."""
    if user.status == UserStatus.DELETED:
        return set()
    values = {
        "username": user.username,
        "email": user.email_key,
        "first_name": user.first_name_key,
        "last_name": user.last_name_key,
    }
    return {(value, field) for field, value in values.items() if value}
