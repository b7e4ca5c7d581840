"""The admin API accepts a user's access token issued for the ostiary module, and only that."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from ostiary.access.modules import ModuleService
from ostiary.runtime import Runtime
from tests.conftest import ADMIN_PASSWORD
from tests.protocols.oidc.conftest import make_client
from tests.protocols.oidc.test_attacks import (  # noqa: F401
    VERIFIER,
    authorize_params,
    browser,
    exchange,
    settings_overrides,  # noqa: F401
)


def _login_as_admin(browser: TestClient, client_id: str) -> dict[str, Any]:  # noqa: F811
    first = browser.get("/oauth2/authorize", params=authorize_params(client_id=client_id))
    page = browser.get(first.headers["location"]).text
    flow = re.search(r'name="flow" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    done = browser.post(
        "/login", data={"flow": flow, "csrf": csrf, "username": "admin", "password": ADMIN_PASSWORD}
    )
    code = parse_qs(urlsplit(done.headers["location"]).query)["code"][0]
    return dict(exchange(browser, code, client_id=client_id).json())


def test_console_token_calls_the_admin_api(browser: TestClient, runtime: Runtime) -> None:  # noqa: F811
    with runtime.sessions() as session:
        ostiary = ModuleService(
            session, __import__("ostiary.audit.actor", fromlist=["Actor"]).Actor.system()
        ).find("ostiary")
        assert ostiary is not None
        module_id = ostiary.id
    make_client(runtime, "console", module_id=module_id)
    tokens = _login_as_admin(browser, "console")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    listed = browser.get("/api/v1/users", headers=bearer)
    assert listed.status_code == 200 and "admin" in [u["username"] for u in listed.json()["items"]]
    assert (
        browser.get(
            "/api/v1/users", headers={"Authorization": f"Bearer {tokens['id_token']}"}
        ).status_code
        == 401
    )


def test_token_for_another_module_is_refused(browser: TestClient, runtime: Runtime) -> None:  # noqa: F811
    make_client(runtime, "portal-anywhere", requires_context=False)
    tokens = _login_as_admin(browser, "portal-anywhere")
    response = browser.get(
        "/api/v1/users", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
def test_malformed_bearer_tokens(browser: TestClient, token: str) -> None:  # noqa: F811
    assert (
        browser.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
