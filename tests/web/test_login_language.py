"""Sign-in pages speak the language asked for: ui_locales, the user's, the browser's, English."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from ostiary.users.models import User
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.protocols.oidc.conftest import PASSWORD, make_client, make_world
from tests.protocols.oidc.test_attacks import authorize_params


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver"}


@pytest.fixture
def browser(runtime: Runtime) -> Any:
    make_world(runtime, contexts=2)
    make_client(runtime, "spa")
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def _login_page(browser: TestClient, headers: dict[str, str] | None = None, **extra: str) -> str:
    first = browser.get("/oauth2/authorize", params=authorize_params(**extra), headers=headers)
    return browser.get(first.headers["location"], headers=headers).text


def _form(page: str) -> dict[str, str]:
    return {
        name: re.search(rf'name="{name}" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        for name in ("flow", "csrf")
    }


def test_english_unless_asked_otherwise(browser: TestClient) -> None:
    page = _login_page(browser)
    assert '<html lang="en">' in page and "<h1>Sign in</h1>" in page


def test_the_browser_language_and_ui_locales(browser: TestClient) -> None:
    german = _login_page(browser, {"Accept-Language": "de-CH,de;q=0.9,en;q=0.5"})
    assert '<html lang="de">' in german and "<h1>Anmelden</h1>" in german
    assert "Benutzername oder E-Mail" in german
    # ui_locales of the application comes before the browser's preference.
    english = _login_page(browser, {"Accept-Language": "de"}, ui_locales="fr en")
    assert "<h1>Sign in</h1>" in english
    wrong = browser.post(
        "/login",
        data={**_form(german), "username": "jeremy", "password": "not it"},
        headers={"Accept-Language": "de"},
    )
    assert wrong.status_code == 401
    assert "Benutzername oder Passwort ist nicht korrekt." in wrong.text


def test_the_user_language_once_known(browser: TestClient, runtime: Runtime) -> None:
    with runtime.sessions() as session, session.atomic():
        user = session.scalars(select(User).where(User.username == "jeremy")).one()
        user.language = "de-CH"
    page = _login_page(browser)
    chooser = browser.post(
        "/login", data={**_form(page), "username": "jeremy", "password": PASSWORD}
    )
    assert chooser.status_code in (302, 303)
    context_page = browser.get(chooser.headers["location"]).text
    assert '<html lang="de">' in context_page
    assert "Wählen Sie, wo Sie arbeiten" in context_page


def test_error_pages_and_discovery(browser: TestClient) -> None:
    refused = browser.get(
        "/oauth2/authorize",
        params=authorize_params(client_id="nobody"),
        headers={"Accept-Language": "de"},
    )
    assert refused.status_code == 400 and "unbekannte oder deaktivierte Anwendung" in refused.text
    metadata = browser.get("/.well-known/openid-configuration").json()
    assert metadata["ui_locales_supported"] == ["de", "en"]
