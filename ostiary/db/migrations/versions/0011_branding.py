"""branding

Brandings of contexts and clients (``brandings``, the logo in the row), the context a client
belongs to (``clients.context_id``) and the sender's display name of a message
(``messages.sender_name``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ostiary.db.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "brandings",
        sa.Column("context_id", sa.Uuid(), nullable=True),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("primary_color", sa.String(length=7), nullable=True),
        sa.Column("accent_color", sa.String(length=7), nullable=True),
        sa.Column("support_url", sa.String(length=500), nullable=True),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_type", sa.String(length=32), nullable=True),
        sa.Column("logo_digest", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(context_id IS NULL) <> (client_id IS NULL)", name=op.f("ck_brandings_one_owner")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_brandings_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_brandings_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brandings")),
        sa.UniqueConstraint("client_id", name=op.f("uq_brandings_client_id")),
        sa.UniqueConstraint("context_id", name=op.f("uq_brandings_context_id")),
    )
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("context_id", sa.Uuid(), nullable=True))
        batch.create_index(batch.f("ix_clients_context_id"), ["context_id"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_clients_context_id_contexts"),
            "contexts",
            ["context_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.add_column("messages", sa.Column("sender_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "sender_name")
    with op.batch_alter_table("clients") as batch:
        batch.drop_constraint(batch.f("fk_clients_context_id_contexts"), type_="foreignkey")
        batch.drop_index(batch.f("ix_clients_context_id"))
        batch.drop_column("context_id")
    op.drop_table("brandings")
