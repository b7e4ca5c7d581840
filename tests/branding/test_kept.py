"""Login pages keep the brandings and the "Continue with" buttons they show while the change
feed vouches for them: a warm page reads neither table, and a change made by another worker, or
by hand in the database, shows on the next page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from ostiary.audit.actor import Actor
from ostiary.branding.schemas import BrandingIn
from ostiary.branding.services import BrandingService, Owner
from ostiary.contexts.services import ContextService
from ostiary.federation.schemas import IdentityProviderCreate
from ostiary.federation.services import IdentityProviderService
from ostiary.runtime import Runtime
from ostiary.users.domains import DomainService
from ostiary.users.schemas import DomainCreate
from tests.access.test_admin import counted
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.db.test_changes import eventually, following
from tests.protocols.oidc.conftest import make_client, make_world
from tests.protocols.oidc.test_attacks import authorize_params

ACTOR = Actor("test", "cli")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver", "message_worker": False}


@pytest.fixture
def browser(runtime: Runtime) -> Iterator[TestClient]:
    make_world(runtime)
    make_client(runtime, "spa")
    with runtime.sessions() as session, session.atomic():
        root = ContextService(session, ACTOR).root()
        BrandingService(session, ACTOR).put(Owner(context=root), BrandingIn(display_name="Before"))
        DomainService(session, ACTOR).create(
            DomainCreate(name="CORP", kind="delegated", context_types=["account"])
        )
        IdentityProviderService(session, ACTOR, runtime.settings).create(
            IdentityProviderCreate(
                key="corp",
                name="Corp SSO",
                issuer="https://corp.example",
                client_id="ostiary",
                client_secret="upstream secret",
                domain="CORP",
            )
        )
    following(runtime)
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def login_page(browser: TestClient) -> str:
    first = browser.get("/oauth2/authorize", params=authorize_params())
    assert first.status_code == 303, first.text
    return browser.get(first.headers["location"]).text


def warm(browser: TestClient, runtime: Runtime) -> None:
    def reads_neither() -> bool:
        with counted(runtime) as statements:
            page = login_page(browser)
        assert "Before" in page and "Continue with Corp SSO" in page
        return not any("brandings" in s or "identity_providers" in s for s in statements)

    assert eventually(reads_neither), "the login pages still read the brandings or providers"


def test_a_branding_changed_by_hand_shows_on_the_next_login_page(
    browser: TestClient, runtime: Runtime
) -> None:
    warm(browser, runtime)
    with runtime.engine.begin() as connection:
        connection.execute(text("UPDATE brandings SET display_name = 'After'"))
    assert eventually(lambda: "After" in login_page(browser))


def test_a_provider_disabled_by_hand_loses_its_button(
    browser: TestClient, runtime: Runtime
) -> None:
    warm(browser, runtime)
    with runtime.engine.begin() as connection:
        connection.execute(text("UPDATE identity_providers SET enabled = false"))
    assert eventually(lambda: "Continue with Corp SSO" not in login_page(browser))
