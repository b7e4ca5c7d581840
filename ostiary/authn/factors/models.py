"""What Ostiary keeps about second factors. No code, secret or key is stored in the clear:
codes by hash, TOTP secrets encrypted under the server's secret key, passkeys as public keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ostiary.db.base import Base, IdMixin
from ostiary.db.types import utcnow


class SentCodeMixin(IdMixin):
    """A code sent by a message, checked by ``ostiary.authn.factors.codes.check_sent_code``.
    Only an HMAC of it is stored."""

    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    # Wrong entries so far; raised atomically before each comparison.
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None] = mapped_column()
    # Set when a newer code was sent to the user: this one no longer works.
    replaced_at: Mapped[datetime | None] = mapped_column()


class SecondFactorCode(SentCodeMixin, Base):
    """A code sent by SMS and/or e-mail for one login flow."""

    __tablename__ = "second_factor_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    flow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("login_flows.id", ondelete="CASCADE"), index=True
    )
    channels: Mapped[list[str]] = mapped_column()


class FactorCounter(Base):
    """A fixed-window counter (tries and sends per user or address), raised atomically."""

    __tablename__ = "factor_counters"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime] = mapped_column(default=utcnow)


class TotpCredential(IdMixin, Base):
    """An authenticator app (RFC 6238). The secret is encrypted at rest."""

    __tablename__ = "totp_credentials"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    secret: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None while enrolment waits for the first code.
    confirmed_at: Mapped[datetime | None] = mapped_column()
    # The time step of the last accepted code: that code and earlier ones never work again.
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    last_used_at: Mapped[datetime | None] = mapped_column()


class RecoveryCode(IdMixin, Base):
    """A one-time recovery code; only its SHA-256 is stored."""

    __tablename__ = "recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column()


class Passkey(IdMixin, Base):
    """A WebAuthn credential (passkey or security key) of a user."""

    __tablename__ = "passkeys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the credential id, for lookup (ids may be up to 1023 bytes long).
    lookup: Mapped[str] = mapped_column(String(64), unique=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(default=list)
    aaguid: Mapped[str | None] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(100))
    backed_up: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()


class WebAuthnChallenge(IdMixin, Base):
    """A challenge of one WebAuthn ceremony, bound to a login flow or a browser session, and
    consumed once."""

    __tablename__ = "webauthn_challenges"

    purpose: Mapped[str] = mapped_column(String(16))
    challenge: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    flow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("login_flows.id", ondelete="CASCADE"), index=True
    )
    browser_session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("browser_sessions.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
