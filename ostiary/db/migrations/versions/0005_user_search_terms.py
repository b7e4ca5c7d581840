"""user search terms

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:46:48.070707
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_search_terms",
        sa.Column(
            "term",
            sa.String(length=320).with_variant(sa.String(length=320, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_search_terms_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("term", "user_id", "field", name=op.f("pk_user_search_terms")),
    )
    with op.batch_alter_table("user_search_terms", schema=None) as batch_op:
        batch_op.create_index("ix_user_search_terms_user_id", ["user_id"], unique=False)
    # Existing users become findable at once.
    for column, field in (
        ("username", "username"),
        ("email_key", "email"),
        ("first_name_key", "first_name"),
        ("last_name_key", "last_name"),
    ):
        op.execute(
            "INSERT INTO user_search_terms (term, user_id, field) "
            f"SELECT {column}, id, '{field}' FROM users "
            f"WHERE {column} IS NOT NULL AND status <> 'deleted'"
        )


def downgrade() -> None:
    with op.batch_alter_table("user_search_terms", schema=None) as batch_op:
        batch_op.drop_index("ix_user_search_terms_user_id")

    op.drop_table("user_search_terms")
