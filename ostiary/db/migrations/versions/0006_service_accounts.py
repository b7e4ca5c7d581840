"""service accounts of clients, used client assertions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 09:00:00.000000
"""

import os
import re
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERVICE_ACCOUNT_PREFIX = "service-account-"


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: SQLite would otherwise copy the tables, and dropping
    # the originals fires the ON DELETE actions of every table that refers to them.
    op.add_column(
        "users",
        sa.Column("service_account", sa.Boolean(), nullable=False, server_default="0"),
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a reference only with the column, and then without its name.
        op.add_column(
            "clients",
            sa.Column("service_account_user_id", sa.Uuid(), sa.ForeignKey("users.id")),
            inline_references=True,
        )
    else:
        op.add_column("clients", sa.Column("service_account_user_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f("fk_clients_service_account_user_id_users"),
            "clients",
            "users",
            ["service_account_user_id"],
            ["id"],
        )
    op.create_index(
        "ix_clients_service_account_user_id", "clients", ["service_account_user_id"], unique=True
    )
    op.create_table(
        "oauth_used_client_assertions",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_oauth_used_client_assertions_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", "jti", name=op.f("pk_oauth_used_client_assertions")),
    )
    with op.batch_alter_table("oauth_used_client_assertions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_used_client_assertions_expires_at"), ["expires_at"], unique=False
        )
    _service_accounts_for_existing_clients()


def downgrade() -> None:
    with op.batch_alter_table("oauth_used_client_assertions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_used_client_assertions_expires_at"))
    op.drop_table("oauth_used_client_assertions")
    op.drop_index("ix_clients_service_account_user_id", table_name="clients")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("service_account_user_id")
    op.drop_column("users", "service_account")


# -- data: confidential clients already allowed client_credentials get their service account --

clients = sa.table(
    "clients",
    sa.column("id", sa.Uuid()),
    sa.column("client_id", sa.String()),
    sa.column("public", sa.Boolean()),
    sa.column("grant_types", sa.JSON()),
    sa.column("service_account_user_id", sa.Uuid()),
)
domains = sa.table(
    "user_domains",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("context_types", sa.JSON()),
)
users = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("username", sa.String()),
    sa.column("domain_id", sa.Uuid()),
    sa.column("status", sa.String()),
    sa.column("two_factor", sa.String()),
    sa.column("security_stamp", sa.Uuid()),
    sa.column("service_account", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
search_terms = sa.table(
    "user_search_terms",
    sa.column("term", sa.String()),
    sa.column("user_id", sa.Uuid()),
    sa.column("field", sa.String()),
)


def _uuid7() -> uuid.UUID:
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def _service_accounts_for_existing_clients() -> None:
    bind = op.get_bind()
    wanting = [
        row
        for row in bind.execute(
            sa.select(clients.c.id, clients.c.client_id, clients.c.public, clients.c.grant_types)
        )
        if not row.public and "client_credentials" in (row.grant_types or [])
    ]
    if not wanting:
        return
    found = bind.execute(sa.select(domains.c.id, domains.c.name, domains.c.context_types)).all()
    if not found:
        return
    domain = next(
        (d for d in found if d.name == "CSP"), max(found, key=lambda d: len(d.context_types))
    )
    now = datetime.now(UTC)
    for row in wanting:
        base = SERVICE_ACCOUNT_PREFIX + re.sub(r"[^a-z0-9._@+-]", "-", row.client_id.lower())
        username = base
        while bind.execute(sa.select(users.c.id).where(users.c.username == username)).first():
            username = f"{base}-{os.urandom(4).hex()}"
        user_id = _uuid7()
        bind.execute(
            users.insert().values(
                id=user_id,
                username=username,
                domain_id=domain.id,
                status="active",
                two_factor="inherit",
                security_stamp=uuid.uuid4(),
                service_account=True,
                created_at=now,
                updated_at=now,
            )
        )
        bind.execute(search_terms.insert().values(term=username, user_id=user_id, field="username"))
        bind.execute(
            clients.update().where(clients.c.id == row.id).values(service_account_user_id=user_id)
        )
