from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ostiary.db.base import Base, IdMixin, TimestampMixin

# Clients that Ostiary makes and keeps itself (``ostiary.clients.console``): not listed or
# exported with the registered applications.
CONSOLE_CLIENT_ID = "ostiary-console"
BUILT_IN_CLIENTS = (CONSOLE_CLIENT_ID,)


class Client(IdMixin, TimestampMixin, Base):
    __tablename__ = "clients"
    __table_args__ = (
        Index("ix_clients_service_account_user_id", "service_account_user_id", unique=True),
    )

    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    module_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("modules.id"))
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    public: Mapped[bool] = mapped_column(default=False)
    redirect_uris: Mapped[list[str]] = mapped_column(default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(default=list)
    grant_types: Mapped[list[str]] = mapped_column(default=list)
    scopes: Mapped[list[str]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    # client_secret_basic, client_secret_post, private_key_jwt or none (public clients).
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(32), default="client_secret_basic"
    )
    # Public keys for private_key_jwt, as a JWK Set.
    jwks: Mapped[dict[str, Any] | None] = mapped_column()
    signing_alg: Mapped[str] = mapped_column(String(16), default="ES256")
    access_token_seconds: Mapped[int] = mapped_column(default=600)
    refresh_token_seconds: Mapped[int] = mapped_column(default=30 * 24 * 3600)
    refresh_idle_seconds: Mapped[int] = mapped_column(default=7 * 24 * 3600)
    # Needs a context chosen at login (the user belongs to several).
    requires_context: Mapped[bool] = mapped_column(default=True)
    # The user its client_credentials tokens act as at the admin API (confidential clients
    # allowed that grant have one).
    service_account_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # The context the application belongs to (a customer's own application): its branding
    # shows at login when the client has none of its own.
    context_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contexts.id", ondelete="SET NULL"), index=True
    )
