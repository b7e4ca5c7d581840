"""oidc provider: keys, sessions, grants, codes, refresh tokens, client settings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:28:39.624417
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ostiary.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_revoked_access_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_oauth_revoked_access_tokens")),
    )
    with op.batch_alter_table("oauth_revoked_access_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_revoked_access_tokens_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("private_jwk_encrypted", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("active_from", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unpublish_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_signing_keys_kid")),
    )
    op.create_table(
        "browser_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("security_stamp", sa.Uuid(), nullable=False),
        sa.Column("context_id", sa.Uuid(), nullable=True),
        sa.Column("auth_time", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("acr", sa.String(length=64), nullable=True),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_browser_sessions_context_id_contexts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_browser_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_browser_sessions_token_hash")),
    )
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_browser_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "oauth_grants",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("context_id", sa.Uuid(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_oauth_grants_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_oauth_grants_context_id_contexts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["browser_sessions.id"],
            name=op.f("fk_oauth_grants_session_id_browser_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oauth_grants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_grants")),
    )
    with op.batch_alter_table("oauth_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_grants_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_oauth_grants_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_oauth_grants_user_id"), ["user_id"], unique=False)

    op.create_table(
        "oauth_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("context_id", sa.Uuid(), nullable=True),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=8), nullable=True),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("grant_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_oauth_codes_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_oauth_codes_context_id_contexts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["oauth_grants.id"],
            name=op.f("fk_oauth_codes_grant_id_oauth_grants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["browser_sessions.id"],
            name=op.f("fk_oauth_codes_session_id_browser_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oauth_codes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oauth_codes_code_hash")),
    )
    op.create_table(
        "oauth_refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("idle_expires_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["oauth_grants.id"],
            name=op.f("fk_oauth_refresh_tokens_grant_id_oauth_grants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_oauth_refresh_tokens_token_hash")),
    )
    with op.batch_alter_table("oauth_refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_refresh_tokens_grant_id"), ["grant_id"], unique=False
        )

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "token_endpoint_auth_method",
                sa.String(length=32),
                nullable=False,
                server_default="client_secret_basic",
            )
        )
        batch_op.add_column(sa.Column("jwks", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("signing_alg", sa.String(length=16), nullable=False, server_default="ES256")
        )
        batch_op.add_column(
            sa.Column("access_token_seconds", sa.Integer(), nullable=False, server_default="600")
        )
        batch_op.add_column(
            sa.Column(
                "refresh_token_seconds", sa.Integer(), nullable=False, server_default="2592000"
            )
        )
        batch_op.add_column(
            sa.Column("refresh_idle_seconds", sa.Integer(), nullable=False, server_default="604800")
        )
        batch_op.add_column(
            sa.Column("requires_context", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("requires_context")
        batch_op.drop_column("refresh_idle_seconds")
        batch_op.drop_column("refresh_token_seconds")
        batch_op.drop_column("access_token_seconds")
        batch_op.drop_column("signing_alg")
        batch_op.drop_column("jwks")
        batch_op.drop_column("token_endpoint_auth_method")

    with op.batch_alter_table("oauth_refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_refresh_tokens_grant_id"))

    op.drop_table("oauth_refresh_tokens")
    op.drop_table("oauth_codes")
    with op.batch_alter_table("oauth_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_grants_user_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_grants_session_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_grants_client_id"))

    op.drop_table("oauth_grants")
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_browser_sessions_user_id"))

    op.drop_table("browser_sessions")
    op.drop_table("signing_keys")
    with op.batch_alter_table("oauth_revoked_access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_revoked_access_tokens_expires_at"))

    op.drop_table("oauth_revoked_access_tokens")
