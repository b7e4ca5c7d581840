"""change topics of brandings and identity providers

Login pages keep the brandings and the enabled identity providers they show (``ostiary.db.
changes``): any change to either table is announced under the table's topic, like clients and
signing keys in migration 0020 (NOTIFY on PostgreSQL, ``change_topics`` on SQLite).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 16:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_TOPICS = {"brandings": "brandings", "identity_providers": "identity_providers"}
_EVENTS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, topic in TABLE_TOPICS.items():
        if dialect == "sqlite":
            for event in _EVENTS:
                op.execute(
                    f"CREATE TRIGGER {table}_{event.lower()}_topic AFTER {event} ON {table} "
                    f"FOR EACH ROW BEGIN INSERT INTO change_topics (topic) VALUES ('{topic}'); END"
                )
        elif dialect == "postgresql":
            # ostiary_notify_table() comes from migration 0020.
            op.execute(
                f"CREATE TRIGGER {table}_notify AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION ostiary_notify_table('{topic}')"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLE_TOPICS:
        if dialect == "sqlite":
            for event in _EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{event.lower()}_topic")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_notify ON {table}")
