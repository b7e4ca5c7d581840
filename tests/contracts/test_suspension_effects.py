"""What a suspended account's user meets: no login there, tokens for it inactive, refreshes
and the admin API refused, authorization denied; their other account stays open."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from ostiary.access.groups import GroupService
from ostiary.access.modules import ModuleService
from ostiary.access.rightsets import RightSets
from ostiary.audit.actor import Actor
from ostiary.contexts.models import Context
from ostiary.runtime import Runtime
from ostiary.users.memberships import MembershipService
from ostiary.users.services import UserService
from tests.api.test_authorization import grant
from tests.apps import app_for
from tests.conftest import ADMIN_PASSWORD, LOCAL_CLIENT
from tests.protocols.oidc.conftest import (
    ACTOR,
    PASSWORD,
    REDIRECT,
    World,
    make_client,
    make_world,
)
from tests.protocols.oidc.test_attacks import authorize_params, exchange
from tests.protocols.oidc.test_client_tokens import register


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver"}


@pytest.fixture
def world(runtime: Runtime) -> World:
    world = make_world(runtime, contexts=2)
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


def sign_in(browser: TestClient, client_id: str = "spa", **extra: str) -> Any:
    """Through the login form; the answer after the password (or after choosing a context)."""
    browser.cookies.clear()
    first = browser.get("/oauth2/authorize", params=authorize_params(client_id=client_id, **extra))
    page = browser.get(first.headers["location"]).text
    return browser.post(
        "/login",
        data={
            "flow": _field(page, "flow"),
            "csrf": _field(page, "csrf"),
            "username": "jeremy",
            "password": PASSWORD,
        },
    )


def choose(browser: TestClient, answer: Any, context_id: str) -> Any:
    assert answer.headers["location"].startswith("/login/context"), answer.headers
    page = browser.get(answer.headers["location"]).text
    return browser.post(
        "/login/context",
        data={"flow": _field(page, "flow"), "csrf": _field(page, "csrf"), "context": context_id},
    )


def tokens_from(browser: TestClient, answer: Any, client_id: str = "spa") -> dict[str, Any]:
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    issued = exchange(browser, code, client_id=client_id)
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


def introspect(browser: TestClient, auth: tuple[str, str], token: str) -> dict[str, Any]:
    return dict(browser.post("/oauth2/introspect", data={"token": token}, auth=auth).json())


def refresh(browser: TestClient, token: str) -> Any:
    return browser.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "client_id": "spa", "refresh_token": token},
    )


def authz(admin: TestClient, context: str) -> bool:
    answer = admin.post(
        "/api/v1/authz/check",
        json={
            "checks": [
                {"user": "jeremy", "context": context, "module": "portal", "right": "orders.read"}
            ]
        },
    )
    return bool(answer.json()["results"][0]["allowed"])


def test_a_suspended_account_is_closed_to_its_user_who_keeps_their_other_one(
    browser: TestClient, admin: TestClient, world: World
) -> None:
    acme, other = world.contexts["acme0"], world.contexts["acme1"]
    rs = ("rs", register(admin, "rs"))
    tokens = tokens_from(browser, choose(browser, sign_in(browser), acme))
    elsewhere = tokens_from(browser, choose(browser, sign_in(browser), other))
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert introspect(browser, rs, tokens["access_token"])["context"]["id"] == acme
    assert browser.get("/oauth2/userinfo", headers=bearer).status_code == 200
    assert authz(admin, "acme0")

    suspended = admin.post(f"/api/v1/contexts/{acme}/suspend")
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    assert suspended.json()["suspended_by"] == "administrator"

    assert introspect(browser, rs, tokens["access_token"]) == {"active": False}
    assert introspect(browser, rs, tokens["refresh_token"]) == {"active": False}
    assert browser.get("/oauth2/userinfo", headers=bearer).status_code == 401
    refused = refresh(browser, tokens["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert not authz(admin, "acme0")
    switchable = admin.get(f"/api/v1/users/{world.user_id}/switchable-contexts").json()
    assert [c["context_id"] for c in switchable] == [other]

    # The chooser no longer offers it: the other account is the only one, so it is taken.
    again = sign_in(browser)
    assert again.headers["location"].startswith(REDIRECT)
    assert (
        introspect(browser, rs, tokens_from(browser, again)["access_token"])["context"]["id"]
        == other
    )
    # Asking for it by name gets a page that says why.
    page = sign_in(browser, context="acme0")
    assert page.status_code == 403 and "location" not in page.headers
    assert "Acme 0" in page.text and "suspended" in page.text
    silent = browser.get(
        "/oauth2/authorize", params=authorize_params(context="acme0", prompt="none")
    )
    assert parse_qs(urlsplit(silent.headers["location"]).query)["error"] == ["access_denied"]
    # The other account is untouched.
    assert introspect(browser, rs, elsewhere["access_token"])["active"] is True
    assert refresh(browser, elsewhere["refresh_token"]).status_code == 200
    assert authz(admin, "acme1")

    reopened = admin.post(f"/api/v1/contexts/{acme}/reactivate")
    assert reopened.status_code == 200 and reopened.json()["status"] == "active"
    assert introspect(browser, rs, tokens["access_token"])["active"] is True
    assert refresh(browser, tokens["refresh_token"]).status_code == 200
    assert authz(admin, "acme0")
    actions = [
        e["action"]
        for e in admin.get("/api/v1/audit-events", params={"target": acme}).json()["items"]
    ]
    assert actions[:2] == ["context.reactivated", "context.suspended"]


def test_a_user_whose_only_account_is_suspended_cannot_log_in(
    world: World, admin: TestClient, browser: TestClient
) -> None:
    admin.post(f"/api/v1/contexts/{world.contexts['acme0']}/suspend")
    admin.post(f"/api/v1/contexts/{world.contexts['acme1']}/suspend")
    page = sign_in(browser)
    assert page.status_code == 403 and "location" not in page.headers
    assert "suspended" in page.text


def test_the_admin_api_refuses_a_bearer_token_of_a_suspended_account(
    runtime: Runtime, world: World, admin: TestClient, browser: TestClient
) -> None:
    with runtime.sessions() as session:
        ostiary = ModuleService(session, Actor.system()).find("ostiary")
        assert ostiary is not None
        module_id = ostiary.id
    make_client(runtime, "console", module_id=module_id)
    grant(
        runtime,
        "jeremy",
        "acme0",
        {"access": True, "contexts.read": True, "API IP Allow": "0.0.0.0/0"},
        group="Admins",
    )
    answer = sign_in(browser, client_id="console")
    if answer.headers["location"].startswith("/login/context"):
        answer = choose(browser, answer, world.contexts["acme0"])
    bearer = {"Authorization": f"Bearer {tokens_from(browser, answer, 'console')['access_token']}"}
    assert browser.get("/api/v1/contexts", headers=bearer).status_code == 200

    admin.post(f"/api/v1/contexts/{world.contexts['acme0']}/suspend")
    refused = browser.get("/api/v1/contexts", headers=bearer)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_jeremy_over_basic_loses_the_rights_of_a_suspended_account(
    runtime: Runtime, admin: TestClient, world: World
) -> None:
    grant(
        runtime,
        "jeremy",
        "acme0",
        {"access": True, "contexts.read": True, "API IP Allow": "0.0.0.0/0"},
        group="Admins",
    )
    jeremy = TestClient(admin.app, client=LOCAL_CLIENT)
    jeremy.auth = ("jeremy", PASSWORD)
    seen = jeremy.get("/api/v1/contexts").json()["items"]
    assert [c["key"] for c in seen] == ["acme0"]
    admin.post(f"/api/v1/contexts/{world.contexts['acme0']}/suspend")
    assert jeremy.get("/api/v1/contexts").status_code == 403
    admin.post(f"/api/v1/contexts/{world.contexts['acme0']}/reactivate")
    assert jeremy.get("/api/v1/contexts").status_code == 200


def test_suspension_is_refused_for_the_root_and_when_there_is_none_to_make(
    admin: TestClient, world: World
) -> None:
    root = admin.get("/api/v1/contexts", params={"type": "root"}).json()["items"][0]["id"]
    refused = admin.post(f"/api/v1/contexts/{root}/suspend")
    assert refused.status_code == 422 and refused.json()["type"].endswith("rule-violation")
    acme = world.contexts["acme0"]
    assert admin.post(f"/api/v1/contexts/{acme}/suspend").status_code == 200
    twice = admin.post(f"/api/v1/contexts/{acme}/suspend")
    assert twice.status_code == 409 and twice.json()["field"] == "status"
    assert admin.post(f"/api/v1/contexts/{world.contexts['acme1']}/reactivate").status_code == 409


def test_a_customer_below_a_suspended_account_is_closed_too(
    runtime: Runtime, admin: TestClient, world: World
) -> None:
    acme = world.contexts["acme0"]
    customer = admin.post(
        "/api/v1/contexts",
        json={"type": "customer", "name": "Shop", "key": "shop", "parent_id": acme},
    ).json()
    with runtime.sessions() as session:
        shop = session.get(Context, uuid.UUID(customer["id"]))
        assert shop is not None
        user = uuid.UUID(world.user_id)
        MembershipService(session, ACTOR).add(
            UserService(session, ACTOR, runtime.passwords).get(user), shop
        )
        values = RightSets(session).resolve(
            {"portal": {"portalAccess": True, "orders.read": True}}, place="rights", problems=[]
        )
        groups = GroupService(session, ACTOR)
        with session.atomic():
            group, _ = groups.put(shop, "Portal users", role=None, rights=values)
            groups.set_members_of_user(user, shop, {group.id})
    assert authz(admin, "shop")
    admin.post(f"/api/v1/contexts/{acme}/suspend")
    assert not authz(admin, "shop")
    admin.post(f"/api/v1/contexts/{acme}/reactivate")
    assert authz(admin, "shop")
