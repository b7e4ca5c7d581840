from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ostiary.runtime import Runtime
from tests.conftest import Database, make_settings
from tests.provisioning.support import start_afresh


@pytest.fixture
def fresh_runtime(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], Runtime]]:
    """Makes runtimes on an empty database with only the defaults of a first start.

    On PostgreSQL this is the test's own database, emptied: read everything needed from the
    previous runtime first, and hold no session open across the call.
    """
    made: list[Runtime] = []

    def make() -> Runtime:
        directory = tmp_path_factory.mktemp("fresh")
        runtime = Runtime.from_settings(make_settings(directory, database.fresh_url(directory)))
        made.append(runtime)
        start_afresh(runtime, empty=database.backend == "postgresql")
        return runtime

    yield make
    for runtime in made:
        runtime.close()
