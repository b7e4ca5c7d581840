"""change feed

On PostgreSQL, committed changes that caches depend on are announced with NOTIFY on channel
``ostiary_changes`` (``ostiary.db.changes``): each raised rights counter by its scope, each
change of a user's sign-in columns by the user's scope, and any change of clients, signing
keys or revoked access tokens by the table's topic. On SQLite the same triggers append the
topics to ``change_topics``, which the feed reads when ``PRAGMA data_version`` changes.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07 09:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A table's topic for every statement that changes it.
TABLE_TOPICS = {
    "clients": "clients",
    "signing_keys": "keys",
    "oauth_revoked_access_tokens": "revocations",
}


# The columns of ``users`` that sign-ins and standings depend on.
USER_COLUMNS = "username, status, password_hash, domain_id, service_account"


def upgrade() -> None:
    op.create_table(
        "change_topics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_topics")),
        sqlite_autoincrement=True,
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers()
        return
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION ostiary_notify_rights_epoch() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('ostiary_changes', NEW.scope);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER rights_epochs_notify AFTER INSERT OR UPDATE ON rights_epochs
        FOR EACH ROW EXECUTE FUNCTION ostiary_notify_rights_epoch()
        """
    )
    op.execute(
        """
        CREATE FUNCTION ostiary_notify_user() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify(
                'ostiary_changes', 'user:' || replace(COALESCE(NEW.id, OLD.id)::text, '-', '')
            );
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER users_notify
        AFTER UPDATE OF {USER_COLUMNS} OR DELETE
        ON users FOR EACH ROW EXECUTE FUNCTION ostiary_notify_user()
        """
    )
    op.execute(
        """
        CREATE FUNCTION ostiary_notify_table() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('ostiary_changes', TG_ARGV[0]);
            RETURN NULL;
        END $$
        """
    )
    for table, topic in TABLE_TOPICS.items():
        op.execute(
            f"CREATE TRIGGER {table}_notify AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION ostiary_notify_table('{topic}')"
        )


_SQLITE_TRIGGERS = [
    "rights_epochs_insert_topic",
    "rights_epochs_update_topic",
    "users_update_topic",
    "users_delete_topic",
    *(f"{t}_{e}_topic" for t in TABLE_TOPICS for e in ("insert", "update", "delete")),
]


def _sqlite_triggers() -> None:
    def log(name: str, when: str, topic: str) -> None:
        op.execute(
            f"CREATE TRIGGER {name} {when} FOR EACH ROW "
            f"BEGIN INSERT INTO change_topics (topic) VALUES ({topic}); END"
        )

    for event in ("INSERT", "UPDATE"):
        log(f"rights_epochs_{event.lower()}_topic", f"AFTER {event} ON rights_epochs", "NEW.scope")
    # Ids are stored as 32 hex digits, as the topics name them.
    log("users_update_topic", f"AFTER UPDATE OF {USER_COLUMNS} ON users", "'user:' || NEW.id")
    log("users_delete_topic", "AFTER DELETE ON users", "'user:' || OLD.id")
    for table, topic in TABLE_TOPICS.items():
        for event in ("INSERT", "UPDATE", "DELETE"):
            log(f"{table}_{event.lower()}_topic", f"AFTER {event} ON {table}", f"'{topic}'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.drop_table("change_topics")
        return
    op.drop_table("change_topics")
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLE_TOPICS:
        op.execute(f"DROP TRIGGER {table}_notify ON {table}")
    op.execute("DROP TRIGGER users_notify ON users")
    op.execute("DROP TRIGGER rights_epochs_notify ON rights_epochs")
    for function in ("ostiary_notify_table", "ostiary_notify_user", "ostiary_notify_rights_epoch"):
        op.execute(f"DROP FUNCTION {function}()")
