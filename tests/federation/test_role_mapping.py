"""Role mapping (step e1): the external role names of a federated login reach the rights in the
tokens of that login, and only of that login, and only for users of a delegated domain."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.testclient import TestClient

from ostiary.access.catalogue import AclSpec, ModuleSpec
from ostiary.access.groups import GroupService
from ostiary.access.models import AclType
from ostiary.access.modules import ModuleService
from ostiary.access.rightsets import RightSets
from ostiary.audit.actor import Actor
from ostiary.contexts.models import ContextType
from ostiary.contexts.schemas import ContextCreate
from ostiary.contexts.services import ContextService
from ostiary.runtime import Runtime
from ostiary.users.models import ExternalIdentity, UserStatus
from ostiary.users.schemas import UserCreate
from ostiary.users.services import UserService
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.federation import test_login
from tests.federation.test_login import come_back, to_upstream
from tests.federation.upstream import Upstream
from tests.protocols.oidc.conftest import REDIRECT, make_client
from tests.protocols.oidc.test_attacks import exchange

up = test_login.up
settings_overrides = test_login.settings_overrides
ACTOR = Actor("test", "cli")
NO_ROLE = {"portalAccess": True, "region": None, "orders.delete": False}
SALES = {"portalAccess": True, "region": "north", "orders.delete": False}


def make_portal(runtime: Runtime) -> None:
    """An account with a group without a role that lets its members use the portal, and two
    groups whose role names map external roles onto the portal, a region and a right."""
    with runtime.sessions() as session:
        ModuleService(session, ACTOR).put(
            ModuleSpec(
                "portal",
                "Portal",
                [],
                "portalAccess",
                [
                    AclSpec("portalAccess", "Module"),
                    AclSpec("region", "Orders", AclType.TEXT),
                    AclSpec("orders.delete", "Orders"),
                ],
            )
        )
        contexts = ContextService(session, ACTOR)
        root = contexts.root()
        assert root is not None
        acme = contexts.create(
            ContextCreate(key="acme", type=ContextType.ACCOUNT, name="Acme", parent_id=root.id)
        )
        groups = GroupService(session, ACTOR)
        for name, role, rights in (
            ("Everyone", None, {"portalAccess": True}),
            ("Sales", "sales", {"portalAccess": True, "region": "north"}),
            (
                "Support",
                "support",
                {"portalAccess": True, "region": "south", "orders.delete": True},
            ),
        ):
            problems: list[Any] = []
            values = RightSets(session).resolve(
                {"portal": rights}, place="rights", problems=problems
            )
            assert problems == []
            groups.put(acme, name, role=role, rights=values)
    make_client(runtime, "spa")


def linked_user(
    runtime: Runtime, username: str, domain: str, subject: str, *, everyone: bool = True
) -> None:
    """A user of ``domain`` in Acme (and its "Everyone" group) whom the upstream's ``subject``
    signs in."""
    with runtime.sessions() as session:
        acme = ContextService(session, ACTOR).get_by_key("acme")
        assert acme is not None
        user = UserService(session, ACTOR, runtime.passwords).create(
            UserCreate(username=username, domain=domain, status=UserStatus.ACTIVE),
            contexts=[acme],
        )
        groups = GroupService(session, ACTOR)
        with session.atomic():
            if everyone:
                found = groups.find(acme, "Everyone")
                assert found is not None
                groups.set_members_of_user(user.id, acme, {found.id})
            session.add(ExternalIdentity(user_id=user.id, idp="corp", subject=subject))


@pytest.fixture
def browser(runtime: Runtime, up: Upstream) -> Iterator[TestClient]:
    make_portal(runtime)
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def sign_in(browser: TestClient, up: Upstream, subject: str, **claims: Any) -> dict[str, Any]:
    """A new federated login (the browser's earlier session ends) and its tokens."""
    browser.cookies.clear()
    done = come_back(browser, up, to_upstream(browser), sub=subject, **claims)
    assert done.status_code in (302, 303), done.text
    location = done.headers["location"]
    assert location.startswith(REDIRECT), location
    code = parse_qs(urlsplit(location).query)["code"][0]
    issued = exchange(browser, code)
    assert issued.status_code == 200, issued.text
    return dict(issued.json())


def rights_in(browser: TestClient, access_token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(browser.get("/oauth2/jwks").json())
    claims = jwt.decode(access_token, keys, algorithms=["ES256", "RS256"]).claims
    assert claims["context"]["name"] == "Acme"
    return dict(claims["rights"])


def refreshed(browser: TestClient, refresh_token: str) -> dict[str, Any]:
    answer = browser.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "spa"},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_delegated_login_has_the_rights_of_its_roles_groups_until_a_login_without_them(
    browser: TestClient, up: Upstream, runtime: Runtime
) -> None:
    linked_user(runtime, "pat", "CORP", "person-1")

    with_sales = sign_in(browser, up, "person-1", roles=["sales", "unknown"])
    assert rights_in(browser, with_sales["access_token"]) == SALES
    # A refreshed token is of the same login: it keeps the login's roles.
    again = refreshed(browser, with_sales["refresh_token"])
    assert rights_in(browser, again["access_token"]) == SALES

    # The next login carries no roles: the role's rights are gone from its tokens.
    without = sign_in(browser, up, "person-1")
    assert rights_in(browser, without["access_token"]) == NO_ROLE
    assert rights_in(browser, refreshed(browser, without["refresh_token"])["access_token"]) == (
        NO_ROLE
    )

    # One role name as a plain string counts; a group's role name is matched exactly.
    assert rights_in(browser, sign_in(browser, up, "person-1", roles="sales")["access_token"]) == (
        SALES
    )
    for near_miss in (["Sales"], ["sales "], [{"name": "sales"}], "sales,support"):
        tokens = sign_in(browser, up, "person-1", roles=near_miss)
        assert rights_in(browser, tokens["access_token"]) == NO_ROLE, near_miss


def test_the_groups_of_every_role_apply_in_the_order_of_their_names(
    browser: TestClient, up: Upstream, runtime: Runtime
) -> None:
    linked_user(runtime, "pat", "CORP", "person-1")
    tokens = sign_in(browser, up, "person-1", roles=["support", "sales"])
    # "Sales" first, then "Support" over it.
    assert rights_in(browser, tokens["access_token"]) == {
        "portalAccess": True,
        "region": "south",
        "orders.delete": True,
    }


def test_a_role_alone_can_open_the_application(
    browser: TestClient, up: Upstream, runtime: Runtime
) -> None:
    """Access to the module from a role's group alone: the login with the role reaches the
    application, one without it is told that no context is open to it."""
    linked_user(runtime, "pat", "CORP", "person-1", everyone=False)
    tokens = sign_in(browser, up, "person-1", roles=["sales"])
    assert rights_in(browser, tokens["access_token"]) == SALES

    browser.cookies.clear()
    refused = come_back(browser, up, to_upstream(browser), sub="person-1", roles=["sale"])
    assert refused.status_code in (302, 303)
    query = parse_qs(urlsplit(refused.headers["location"]).query)
    assert query["error"] == ["access_denied"] and "code" not in query


def test_a_local_users_rights_ignore_the_roles_of_a_federated_login(
    browser: TestClient, up: Upstream, runtime: Runtime
) -> None:
    """An account of a local domain that an upstream identity signs in (an invitation accepted
    through the provider makes one): step e1 is for delegated users only."""
    linked_user(runtime, "jeremy", "ENTERPRISE", "jeremy-at-corp")
    tokens = sign_in(browser, up, "jeremy-at-corp", roles=["sales", "support"])
    assert rights_in(browser, tokens["access_token"]) == NO_ROLE
