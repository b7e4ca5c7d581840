"""A browser signed in to the account pages as a person of the console's world."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.protocols.oidc.conftest import make_client
from tests.protocols.oidc.test_attacks import authorize_params, exchange
from tests.web.console.support import csrf_of, follow_sign_in, make_world


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False, "registration_parent": "root"}


@pytest.fixture
def world(runtime: Runtime, tmp_path: Path) -> Runtime:
    make_world(runtime, tmp_path)
    return runtime


def new_browser(runtime: Runtime) -> TestClient:
    return TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False)


@pytest.fixture
def browser(world: Runtime) -> Iterator[TestClient]:
    with new_browser(world) as client:
        yield client


def app_tokens(browser: TestClient, runtime: Runtime) -> dict[str, str]:
    """The signed-in browser lets the application ``spa`` in (code flow with PKCE): its
    tokens."""
    make_client(runtime, "spa", name="Planning board")
    answer = browser.get("/oauth2/authorize", params=authorize_params())
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    issued = exchange(browser, code)
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


def refreshed(browser: TestClient, tokens: dict[str, str]) -> Any:
    return browser.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "spa",
        },
    )


def open_signed_in(browser: TestClient, path: str, username: str = "jeremy") -> tuple[str, str]:
    """``path`` through the login that it starts: the page's text and its form token."""
    page = follow_sign_in(browser, path, username)
    return page, csrf_of(page)
