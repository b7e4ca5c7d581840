"""contact verifications

A new e-mail address or phone number waits in ``contact_verifications`` for the code sent to
it (and, for an address, the one-time token of the link) before it replaces the old one.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ostiary.db.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_verifications",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("field", sa.String(length=8), nullable=False),
        sa.Column("new_value", sa.String(length=320), nullable=False),
        sa.Column("link_token_id", sa.Uuid(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replaced_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_token_id"],
            ["one_time_tokens.id"],
            name=op.f("fk_contact_verifications_link_token_id_one_time_tokens"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_contact_verifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_verifications")),
    )
    op.create_index(
        "ix_contact_verifications_user_id_field",
        "contact_verifications",
        ["user_id", "field"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_contact_verifications_user_id_field", table_name="contact_verifications")
    op.drop_table("contact_verifications")
