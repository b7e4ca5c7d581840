"""Fixtures of the journeys: the world of ``tests.web.console.support`` served on a real port,
real SMTP and SMS servers, and Chromium; every test here is skipped without Debian's
chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ostiary.runtime import Runtime
from tests.messages.servers import GatewayLog, Mailbox, free_port, sms_gateway, smtp_server
from tests.protocols.oidc.conftest import provider  # noqa: F401 (a fixture)
from tests.web.console.journeys.chromium import CHROMIUM, CHROMIUM_MISSING, playwright_api
from tests.web.console.support import make_world


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(CHROMIUM_MISSING)


@pytest.fixture
def database(sqlite_database: Any) -> Any:
    # The journeys are about the pages; the rules are tested on both databases elsewhere.
    return sqlite_database


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def gateway() -> Iterator[tuple[str, GatewayLog]]:
    log = GatewayLog()
    with sms_gateway(log) as url:
        yield url, log


@pytest.fixture
def settings_overrides(
    smtp: tuple[int, Mailbox], gateway: tuple[str, GatewayLog]
) -> dict[str, object]:
    return {
        "issuer": f"http://127.0.0.1:{free_port()}",
        "smtp_url": f"smtp://127.0.0.1:{smtp[0]}",
        "sms_gateway_url": gateway[0],
        "message_poll_seconds": 0.2,
    }


@pytest.fixture
def world(runtime: Runtime, tmp_path: Path) -> Runtime:
    make_world(runtime, tmp_path)
    return runtime


@pytest.fixture
def chromium() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
