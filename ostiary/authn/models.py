from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ostiary.db.base import Base, IdMixin
from ostiary.db.types import utcnow


class OneTimeToken(IdMixin, Base):
    """A single-use secret link (setup, invitation, reset). Only its SHA-256 is stored."""

    __tablename__ = "one_time_tokens"

    purpose: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class BrowserSession(IdMixin, Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "browser_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The user's security stamp when the session began; a new stamp ends the session.
    security_stamp: Mapped[uuid.UUID] = mapped_column()
    context_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contexts.id", ondelete="SET NULL")
    )
    auth_time: Mapped[datetime] = mapped_column(default=utcnow)
    amr: Mapped[list[str]] = mapped_column(default=list)
    acr: Mapped[str | None] = mapped_column(String(64))
    # The external role names of the login (a federated one's upstream roles; a password login
    # has none), for step e1 of the user's rights while the session lasts.
    external_roles: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    # The last time the user proved it was them again (password or second factor), for
    # changes that need a recent sign-in (ostiary.authn.factors.stepup).
    reauthenticated_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    # Where the sign-in came from, for the user's list of their sessions.
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))


class LoginFlow(IdMixin, Base):
    """One login attempt in progress: which stage it is at and what it will lead to.

    ``state`` holds a ``LoginState`` (ostiary.authn.flow) as JSON, never pickled objects.
    """

    __tablename__ = "login_flows"

    csrf_token: Mapped[str] = mapped_column(String(64))
    state: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None] = mapped_column()
