"""rights epochs and user preferences

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:46:12.835539
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rights_epochs",
        sa.Column("scope", sa.String(length=48), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_rights_epochs")),
    )
    op.create_table(
        "user_preferences",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("acl_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["acl_id"],
            ["acls.id"],
            name=op.f("fk_user_preferences_acl_id_acls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "acl_id", name=op.f("pk_user_preferences")),
    )


def downgrade() -> None:
    op.drop_table("user_preferences")
    op.drop_table("rights_epochs")
