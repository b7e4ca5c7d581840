"""An upstream OpenID Connect provider, and the user domain its users belong to."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ostiary.db.base import Base, IdMixin, TimestampMixin


class IdentityProvider(IdMixin, TimestampMixin, Base):
    """Ostiary as a relying party of ``issuer``, registered there as ``client_id``.

    ``client_secret`` is stored encrypted with the instance's secret key, bound to the row's
    id. ``email_domains`` send a person who types such an address to this provider (home-realm
    discovery); ``roles_claim`` names the ID token claim whose values are the login's external
    role names (step e1 of the rights).
    """

    __tablename__ = "identity_providers"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(2000))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column()
    domain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_domains.id"), index=True)
    email_domains: Mapped[list[str]] = mapped_column(default=list)
    roles_claim: Mapped[str | None] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(default=True)
