"""identity providers

Upstream OpenID Connect providers for federated login (``ostiary.federation``).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ostiary.db.types

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_providers",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=2000), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret", sa.Text(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("domain_id", sa.Uuid(), nullable=False),
        sa.Column("email_domains", sa.JSON(), nullable=False),
        sa.Column("roles_claim", sa.String(length=100), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["user_domains.id"],
            name=op.f("fk_identity_providers_domain_id_user_domains"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_providers")),
        sa.UniqueConstraint("key", name=op.f("uq_identity_providers_key")),
    )
    with op.batch_alter_table("identity_providers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_providers_domain_id"), ["domain_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_providers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_providers_domain_id"))
    op.drop_table("identity_providers")
