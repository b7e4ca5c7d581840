"""change feed

On PostgreSQL, committed changes that caches depend on are announced with NOTIFY on channel
``ostiary_changes`` (``ostiary.db.changes``): each raised rights counter by its scope, each
change of a user's sign-in columns by the user's scope, and any change of clients, signing
keys or revoked access tokens by the table's topic. SQLite needs nothing: its caches follow
``PRAGMA data_version``.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07 09:40:00.000000
"""

from collections.abc import Sequence

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


def upgrade() -> None:
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
        """
        CREATE TRIGGER users_notify
        AFTER UPDATE OF username, status, password_hash, domain_id, service_account OR DELETE
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


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLE_TOPICS:
        op.execute(f"DROP TRIGGER {table}_notify ON {table}")
    op.execute("DROP TRIGGER users_notify ON users")
    op.execute("DROP TRIGGER rights_epochs_notify ON rights_epochs")
    for function in ("ostiary_notify_table", "ostiary_notify_user", "ostiary_notify_rights_epoch"):
        op.execute(f"DROP FUNCTION {function}()")
