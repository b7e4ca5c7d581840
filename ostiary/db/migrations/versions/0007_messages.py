"""message templates and the outbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ostiary.db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_templates",
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("context_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_message_templates_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint(
            "purpose",
            "language",
            "channel",
            "context_id",
            name=op.f("uq_message_templates_purpose_language_channel_context_id"),
        ),
    )
    with op.batch_alter_table("message_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_templates_context_id"), ["context_id"], unique=False
        )
        batch_op.create_index(
            "ix_message_templates_instance_key",
            ["purpose", "language", "channel"],
            unique=True,
            sqlite_where=sa.text("context_id IS NULL"),
            postgresql_where=sa.text("context_id IS NULL"),
        )

    op.create_table(
        "messages",
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("context_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.Uuid(), nullable=True),
        sa.Column("transport", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_messages_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_state_due_at", ["state", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_user_id"))
        batch_op.drop_index("ix_messages_state_due_at")
    op.drop_table("messages")

    with op.batch_alter_table("message_templates", schema=None) as batch_op:
        batch_op.drop_index("ix_message_templates_instance_key")
        batch_op.drop_index(batch_op.f("ix_message_templates_context_id"))
    op.drop_table("message_templates")
