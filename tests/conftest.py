"""Fixtures: every test that uses the database runs on SQLite and, where
``OSTIARY_TEST_DATABASE_URL`` names a PostgreSQL server, on PostgreSQL too."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from ostiary.audit.actor import Actor
from ostiary.bootstrap import ensure_defaults
from ostiary.db.engine import make_engine
from ostiary.db.migrate import upgrade
from ostiary.db.models import metadata
from ostiary.db.session import OstiarySession
from ostiary.runtime import Runtime
from ostiary.settings import Settings
from tests.apps import app_for

ADMIN_PASSWORD = "correct horse battery staple"
PG_ENV = "OSTIARY_TEST_DATABASE_URL"
LOCAL_CLIENT = ("127.0.0.1", 50000)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@dataclass(frozen=True)
class Database:
    """A migrated, empty database for this test session (and xdist worker)."""

    backend: str
    url: str
    template: Path | None = None

    def fresh_url(self, tmp_path: Path) -> str:
        if self.template is None:
            return self.url
        target = tmp_path / "ostiary.db"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Database:
    template = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = make_engine(f"sqlite:///{template}")
    upgrade(engine)
    engine.dispose()  # the last connection to close folds the WAL into the file
    return Database("sqlite", f"sqlite:///{template}", template)


@pytest.fixture(scope="session")
def postgresql_database() -> Iterator[Database]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set, so the PostgreSQL run is skipped")
    url = make_url(Settings(database_url=base).effective_database_url)
    # Unique per process, so that test runs side by side on one server do not drop each other's.
    name = f"ostiary_test_{_worker()}_{os.getpid()}"
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    own = url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(own)
    upgrade(engine)
    engine.dispose()
    yield Database("postgresql", own)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Database:
    return request.getfixturevalue(f"{request.param}_database")


def _empty_postgres(runtime: Runtime) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with runtime.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def make_settings(tmp_path: Path, url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "database_url": url,
        "bootstrap_admin_password": ADMIN_PASSWORD,
        "argon2_memory_cost_kib": 1024,
        "argon2_time_cost": 1,
        "issuer": "http://testserver",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module to run its tests with other settings."""
    return {}


@pytest.fixture
def runtime(
    database: Database, tmp_path: Path, settings_overrides: dict[str, object]
) -> Iterator[Runtime]:
    settings = make_settings(tmp_path, database.fresh_url(tmp_path), **settings_overrides)
    runtime = Runtime.from_settings(settings)
    if database.backend == "postgresql":
        _empty_postgres(runtime)
    with runtime.sessions() as session:
        ensure_defaults(runtime, session)
    yield runtime
    runtime.close()


@pytest.fixture
def session(runtime: Runtime) -> Iterator[OstiarySession]:
    with runtime.sessions() as session:
        yield session


@pytest.fixture
def actor() -> Actor:
    return Actor(label="tester", via="cli")


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """The app over HTTP, called from 127.0.0.1 as the first administrator."""
    with TestClient(app_for(runtime), client=LOCAL_CLIENT) as test_client:
        test_client.auth = ("admin", ADMIN_PASSWORD)
        yield test_client


@pytest.fixture
def anonymous(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(app_for(runtime), client=LOCAL_CLIENT) as test_client:
        yield test_client
