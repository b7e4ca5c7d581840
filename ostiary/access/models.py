from __future__ import annotations

import enum
import uuid

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ostiary.db.base import Base, IdMixin, TimestampMixin


class AclType(enum.StrEnum):
    BOOL = "bool"
    TEXT = "text"


USER_PREFERENCES = "User Preferences"


class Module(IdMixin, TimestampMixin, Base):
    """An application area with its own catalogue of access rights."""

    __tablename__ = "modules"

    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Empty means every context type.
    context_types: Mapped[list[str]] = mapped_column(default=list)
    # Key of the bool ACL that must be true for any access to the module; none means no such gate.
    access_right: Mapped[str | None] = mapped_column(String(100))

    acls: Mapped[list[Acl]] = relationship(
        back_populates="module", cascade="all, delete-orphan", order_by="Acl.key"
    )


class Acl(IdMixin, Base):
    """One access right of a module."""

    __tablename__ = "acls"
    __table_args__ = (UniqueConstraint("module_id", "key"),)

    module_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(100), default="General")
    type: Mapped[str] = mapped_column(String(8), default=AclType.BOOL)
    description: Mapped[str | None] = mapped_column(String(500))

    module: Mapped[Module] = relationship(back_populates="acls")


class AclTemplate(IdMixin, TimestampMixin, Base):
    """A named set of right values that is copied onto groups and contexts."""

    __tablename__ = "acl_templates"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    context_types: Mapped[list[str]] = mapped_column(default=list)

    rights: Mapped[list[TemplateRight]] = relationship(cascade="all, delete-orphan")


class TemplateRight(Base):
    __tablename__ = "template_rights"

    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("acl_templates.id", ondelete="CASCADE"), primary_key=True
    )
    acl_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("acls.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(String(2000))

    acl: Mapped[Acl] = relationship(lazy="joined")


class UserGroup(IdMixin, TimestampMixin, Base):
    """A group in one context: rights shared by its members, or by holders of its role name."""

    __tablename__ = "user_groups"
    __table_args__ = (UniqueConstraint("context_id", "name"),)

    context_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contexts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))

    rights: Mapped[list[GroupRight]] = relationship(cascade="all, delete-orphan")
    members: Mapped[list[GroupMember]] = relationship(cascade="all, delete-orphan")


class GroupRight(Base):
    __tablename__ = "group_rights"

    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True
    )
    acl_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("acls.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(String(2000))

    acl: Mapped[Acl] = relationship(lazy="joined")


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class PolicyRight(Base):
    """A context's access policy: the rights anyone can have there at most."""

    __tablename__ = "policy_rights"

    context_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True
    )
    acl_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("acls.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(String(2000))


class UserRight(Base):
    """A right given to a user directly in a context (evaluation step e3)."""

    __tablename__ = "user_rights"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    context_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True
    )
    acl_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("acls.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(String(2000))


class UserPreference(Base):
    """A user's own value of a ``User Preferences`` ACL (never a right)."""

    __tablename__ = "user_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    acl_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("acls.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(String(2000))


class RightsEpoch(Base):
    """A counter per scope ("global", "context:<id>", "user:<id>") that every change able to
    alter effective rights raises in its own transaction; cached rights remember the counters
    they were computed under and are stale once any of them moved."""

    __tablename__ = "rights_epochs"

    scope: Mapped[str] = mapped_column(String(48), primary_key=True)
    epoch: Mapped[int] = mapped_column(default=0)
