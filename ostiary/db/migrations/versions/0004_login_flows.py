"""login flows

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:36:13.359467
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ostiary.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_flows",
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("created_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_flows")),
    )
    with op.batch_alter_table("login_flows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_flows_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_flows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_flows_expires_at"))

    op.drop_table("login_flows")
