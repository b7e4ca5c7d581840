"""``/account/applications``: the clients with live grants of the user, and revoking one: its
refresh token fails at the token endpoint, its access token is inactive at introspection."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from tests.protocols.oidc.test_client_tokens import introspect, register
from tests.web import account_support
from tests.web.account_support import app_tokens, open_signed_in, refreshed

# The fixtures of the account pages.
settings_overrides = account_support.settings_overrides
world = account_support.world
browser = account_support.browser


@pytest.fixture
def tokens(browser: TestClient, world: Runtime) -> dict[str, str]:
    """Jeremy, signed in, lets the application ``spa`` in: its tokens."""
    open_signed_in(browser, "/account")
    return app_tokens(browser, world)


def test_revoke_an_application(
    browser: TestClient, client: TestClient, world: Runtime, tokens: dict[str, str]
) -> None:
    auth = ("resource-server", register(client, "resource-server"))
    assert introspect(client, tokens["access_token"], auth)["active"] is True
    page, csrf = open_signed_in(browser, "/account/applications")
    assert 'id="application-spa"' in page and "Planning board" in page
    assert "openid, offline_access" in page and "City Group" in page
    forged = browser.post("/account/applications/x/revoke", data={"csrf": "forged"})
    assert forged.status_code == 403
    action = page.split('action="/account/applications/', 1)[1].split('"', 1)[0]
    revoked = browser.post(f"/account/applications/{action}", data={"csrf": csrf})
    assert revoked.status_code == 303 and revoked.headers["location"].endswith("?done=revoked")
    after = browser.get("/account/applications").text
    assert 'id="application-spa"' not in after and 'id="no-applications"' in after
    refused = refreshed(browser, tokens)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert introspect(client, tokens["access_token"], auth) == {"active": False}
    again = browser.post(f"/account/applications/{action}", data={"csrf": csrf})
    assert again.status_code == 404


def test_a_forged_revocation_changes_nothing(
    browser: TestClient, client: TestClient, tokens: dict[str, str]
) -> None:
    auth = ("resource-server", register(client, "resource-server"))
    page, _ = open_signed_in(browser, "/account/applications")
    action = page.split('action="/account/applications/', 1)[1].split('"', 1)[0]
    assert browser.post(f"/account/applications/{action}", data={"csrf": "x"}).status_code == 403
    assert introspect(client, tokens["access_token"], auth)["active"] is True
