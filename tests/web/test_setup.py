"""The first administrator chooses a password through the one-time setup link."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from ostiary.bootstrap import ensure_defaults
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"bootstrap_admin_password": None}


@pytest.fixture
def setup_link(runtime: Runtime) -> str:
    with runtime.sessions() as session:
        first = ensure_defaults(runtime, session)
    assert first is not None and first.setup_link
    return first.setup_link.removeprefix("http://testserver")


@pytest.fixture
def browser(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(app_for(runtime), client=LOCAL_CLIENT) as client:
        yield client


def test_setup_link_sets_the_first_password_once(browser: TestClient, setup_link: str) -> None:
    token = setup_link.split("token=")[1]
    page = browser.get(setup_link)
    assert page.status_code == 200 and "admin" in page.text
    assert page.headers["cache-control"] == "no-store"

    weak = browser.post(
        "/setup", data={"token": token, "password": "short", "confirmation": "short"}
    )
    assert weak.status_code == 422
    assert 'id="password-error">must be at least 12 characters long' in weak.text
    mismatch = browser.post(
        "/setup",
        data={
            "token": token,
            "password": "a good long password",
            "confirmation": "another long password",
        },
    )
    assert 'id="confirmation-error">does not match the password' in mismatch.text
    assert browser.get("/api/v1/users", auth=("admin", "a good long password")).status_code == 401

    done = browser.post(
        "/setup",
        data={
            "token": token,
            "password": "a good long password",
            "confirmation": "a good long password",
        },
    )
    assert done.status_code == 200 and "is set" in done.text
    assert browser.get("/api/v1/users", auth=("admin", "a good long password")).status_code == 200

    replay = browser.post(
        "/setup",
        data={
            "token": token,
            "password": "an attacker password",
            "confirmation": "an attacker password",
        },
    )
    assert replay.status_code == 404 and "used up or has expired" in replay.text
    assert browser.get("/api/v1/users", auth=("admin", "an attacker password")).status_code == 401
    assert browser.get(setup_link).status_code == 404


def test_a_new_link_replaces_the_old_one(
    browser: TestClient, runtime: Runtime, setup_link: str
) -> None:
    with runtime.sessions() as session:
        newer = ensure_defaults(runtime, session)
    assert newer is not None and newer.setup_link
    assert browser.get(setup_link).status_code == 404
    assert browser.get(newer.setup_link.removeprefix("http://testserver")).status_code == 200


def test_forged_token_is_refused(browser: TestClient, setup_link: str) -> None:
    assert browser.get("/setup?token=forged").status_code == 404
    response = browser.post(
        "/setup",
        data={
            "token": "forged",
            "password": "a good long password",
            "confirmation": "a good long password",
        },
    )
    assert response.status_code == 404
