"""``email_verified`` tells the truth in userinfo and the ID token (scope ``email``): false for
an address nobody proved, true once the CRM vouched for it or its owner proved it, false again
when it changes without proof. The admin API shows the same."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.conftest import ADMIN_PASSWORD, LOCAL_CLIENT
from tests.protocols.oidc.conftest import PASSWORD, World, make_client, make_world
from tests.protocols.oidc.test_attacks import authorize_params, exchange


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver"}


@pytest.fixture
def world(runtime: Runtime) -> World:
    world = make_world(runtime)
    make_client(runtime, "spa")
    return world


@pytest.fixture
def browser(runtime: Runtime, world: World) -> Iterator[TestClient]:
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


@pytest.fixture
def admin(runtime: Runtime, world: World) -> Iterator[TestClient]:
    with TestClient(app_for(runtime), client=LOCAL_CLIENT) as client:
        client.auth = ("admin", ADMIN_PASSWORD)
        yield client


def _field(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def _sign_in(browser: TestClient, scope: str) -> dict[str, Any]:
    """The tokens of a login with ``scope``; the ID token's claims beside them."""
    browser.cookies.clear()
    first = browser.get("/oauth2/authorize", params=authorize_params(scope=scope))
    page = browser.get(first.headers["location"]).text
    done = browser.post(
        "/login",
        data={
            "flow": _field(page, "flow"),
            "csrf": _field(page, "csrf"),
            "username": "jeremy",
            "password": PASSWORD,
        },
    )
    code = parse_qs(urlsplit(done.headers["location"]).query)["code"][0]
    issued = exchange(browser, code)
    assert issued.status_code == 200, issued.text
    tokens = dict(issued.json())
    keys = KeySet.import_key_set(browser.get("/oauth2/jwks").json())
    tokens["claims"] = jwt.decode(tokens["id_token"], keys, algorithms=["ES256", "RS256"]).claims
    return tokens


def _userinfo(browser: TestClient, tokens: dict[str, Any]) -> dict[str, Any]:
    answer = browser.get(
        "/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_userinfo_and_the_id_token_say_whether_the_address_is_proven(
    browser: TestClient, admin: TestClient, world: World
) -> None:
    url = f"/api/v1/users/{world.user_id}"
    assert admin.get(url).json()["email_verified"] is False
    tokens = _sign_in(browser, "openid email")
    assert _userinfo(browser, tokens)["email_verified"] is False
    assert tokens["claims"]["email"] == "jeremy@city.example"
    assert tokens["claims"]["email_verified"] is False

    # The CRM vouches for the address.
    vouched = admin.patch(url, json={"email_verified": True})
    assert vouched.status_code == 200 and vouched.json()["email_verified"] is True
    tokens = _sign_in(browser, "openid email")
    assert _userinfo(browser, tokens)["email_verified"] is True
    assert tokens["claims"]["email_verified"] is True
    # Without the scope, neither says anything of the address.
    plain = _sign_in(browser, "openid")
    assert "email" not in plain["claims"] and "email_verified" not in plain["claims"]
    assert "email_verified" not in _userinfo(browser, plain)

    # A new address that nobody proved is not verified; one the CRM vouches for along is.
    changed = admin.patch(url, json={"email": "jeremy@elsewhere.example"})
    assert changed.json()["email_verified"] is False
    assert _userinfo(browser, _sign_in(browser, "openid email"))["email_verified"] is False
    both = admin.patch(url, json={"email": "jeremy@city.example", "email_verified": True})
    assert both.json()["email_verified"] is True
    # A change of something else keeps it.
    assert admin.patch(url, json={"first_name": "Jem"}).json()["email_verified"] is True
    events = admin.get("/api/v1/audit-events", params={"target": world.user_id}).json()["items"]
    assert any(e["changes"].get("email_verified") == [False, True] for e in events)


def test_a_user_created_as_verified_by_the_crm(admin: TestClient) -> None:
    made = admin.post(
        "/api/v1/users",
        json={
            "username": "vouched",
            "domain": "ENTERPRISE",
            "email": "vouched@city.example",
            "email_verified": True,
        },
    )
    assert made.status_code == 201 and made.json()["email_verified"] is True
    # Without an address there is nothing to be verified.
    bare = admin.post(
        "/api/v1/users", json={"username": "bare", "domain": "ENTERPRISE", "email_verified": True}
    )
    assert bare.status_code == 201 and bare.json()["email_verified"] is False
    plain = admin.post(
        "/api/v1/users",
        json={"username": "plain", "domain": "ENTERPRISE", "email": "plain@city.example"},
    )
    assert plain.json()["email_verified"] is False
    refused = admin.patch(f"/api/v1/users/{plain.json()['id']}", json={"email_verified": None})
    assert refused.status_code == 422 and refused.json()["field"] == "email_verified"
