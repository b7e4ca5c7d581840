"""The Alembic migrations and the models describe the same schema, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ostiary.db.migrate import current_revision, head_revision
from ostiary.db.models import metadata
from ostiary.runtime import Runtime


def test_models_and_migrations_agree(runtime: Runtime) -> None:
    with runtime.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_database_is_at_the_latest_revision(runtime: Runtime) -> None:
    assert current_revision(runtime.engine) == head_revision(runtime.engine) is not None
