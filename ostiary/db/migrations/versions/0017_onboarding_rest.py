"""verified e-mail addresses, and which registrations made their organization

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: SQLite would otherwise copy the tables, and dropping
    # the originals fires the ON DELETE actions of every table that refers to them.
    op.add_column(
        "users", sa.Column("email_verified", sa.Boolean(), nullable=False, server_default="0")
    )
    op.add_column(
        "registrations",
        sa.Column("made_context", sa.Boolean(), nullable=False, server_default="0"),
    )
    # An accepted invitation's link proved its address: the accounts that still have it.
    op.execute(
        sa.text(
            "UPDATE users SET email_verified = :yes WHERE email_key IS NOT NULL AND EXISTS ("
            "SELECT 1 FROM invitations WHERE invitations.accepted_by_id = users.id "
            "AND invitations.status = 'accepted' AND invitations.email_key = users.email_key)"
        ).bindparams(yes=True)
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35 and later), for the reason above.
    op.drop_column("registrations", "made_context")
    op.drop_column("users", "email_verified")
