"""password resets and throttling

Reset links are one-time tokens (``one_time_tokens``, purpose ``password-reset``): no table of
their own. Throttling counts failures per kind and key in ``sign_in_throttles``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ostiary.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttles",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_failure_at", ostiary.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", ostiary.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_refused", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_sign_in_throttles")),
    )


def downgrade() -> None:
    op.drop_table("sign_in_throttles")
