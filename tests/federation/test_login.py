"""Federated login through the pages, against an upstream over real HTTP: just-in-time users,
the same user on the second login, home-realm discovery, and what must fail."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.federation.schemas import IdentityProviderCreate, IdentityProviderUpdate
from ostiary.federation.services import IdentityProviderService
from ostiary.runtime import Runtime
from ostiary.users.domains import DomainService
from ostiary.users.models import ExternalIdentity, User
from ostiary.users.schemas import DomainCreate
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.federation.upstream import Upstream, unsigned, upstream
from tests.protocols.oidc.conftest import make_client, make_world
from tests.protocols.oidc.test_attacks import authorize_params

ACTOR = Actor("test", "cli")
FAILED = (
    "The sign-in with your organisation failed. Please try again or contact your administrator."
)
FAILED_DE = (
    "Die Anmeldung über Ihre Organisation ist fehlgeschlagen. Bitte versuchen Sie es erneut "
    "oder wenden Sie sich an Ihre Administration."
)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver"}


@pytest.fixture
def up(runtime: Runtime) -> Iterator[Upstream]:
    with upstream() as running:
        with runtime.sessions() as session:
            DomainService(session, ACTOR).create(
                DomainCreate(name="CORP", kind="delegated", context_types=["account"])
            )
            IdentityProviderService(session, ACTOR, runtime.settings).create(
                IdentityProviderCreate(
                    key="corp",
                    name="Corp SSO",
                    issuer=running.issuer,
                    client_id="ostiary",
                    client_secret="upstream secret",
                    domain="CORP",
                    email_domains=["corp.example"],
                    roles_claim="roles",
                )
            )
        yield running


@pytest.fixture
def browser(runtime: Runtime, up: Upstream) -> Iterator[TestClient]:
    make_world(runtime)
    make_client(runtime, "spa")
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def login_page(browser: TestClient) -> tuple[str, str, str]:
    first = browser.get("/oauth2/authorize", params=authorize_params())
    page = browser.get(first.headers["location"]).text
    flow = re.search(r'name="flow" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return flow, csrf, page


def to_upstream(browser: TestClient) -> dict[str, str]:
    flow, _, page = login_page(browser)
    assert "Continue with Corp SSO" in page
    sent = browser.get(f"/login/federated/corp?flow={flow}")
    assert sent.status_code == 303, sent.text
    return {k: v[0] for k, v in parse_qs(urlsplit(sent.headers["location"]).query).items()}


def come_back(browser: TestClient, up: Upstream, query: dict[str, str], **claims: Any) -> Any:
    up.id_token = up.sign(up.claims(nonce=query["nonce"], **claims))
    return browser.get(
        "/login/federated/corp/callback", params={"state": query["state"], "code": "c"}
    )


def failures(runtime: Runtime) -> list[str]:
    """The reasons of the failed federated logins in the audit log, oldest first."""
    with runtime.sessions() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "login.federated_failed")
            .order_by(AuditEvent.id)
        ).all()
        assert all(e.changes["provider"] == "corp" for e in events)
        return [str(e.changes["reason"]) for e in events]


def links_of(runtime: Runtime) -> list[tuple[str | None, dict[str, Any]]]:
    with runtime.sessions() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "user.identity_linked")
        ).all()
        return [(e.target_id, e.changes) for e in events]


def users_of(runtime: Runtime) -> list[tuple[str, str | None]]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(User.username, User.email)
            .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
            .where(ExternalIdentity.idp == "corp")
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_first_login_makes_a_user_and_a_second_signs_the_same_one_in(
    browser: TestClient, up: Upstream, runtime: Runtime
) -> None:
    query = to_upstream(browser)
    assert query["redirect_uri"] == "http://testserver/login/federated/corp/callback"
    done = come_back(browser, up, query)
    assert done.status_code in (302, 303), done.text
    assert users_of(runtime) == [(users_of(runtime)[0][0], "pat@corp.example")]
    assert users_of(runtime)[0][0].startswith("corp.")

    with runtime.sessions() as session:
        user_id = str(
            session.scalars(select(User.id).where(User.email == "pat@corp.example")).one()
        )
    assert links_of(runtime) == [(user_id, {"provider": "corp", "subject": "person-1"})]

    browser.cookies.clear()
    again = come_back(browser, up, to_upstream(browser), email="changed@corp.example")
    assert again.status_code in (302, 303), again.text
    assert len(users_of(runtime)) == 1
    # The identity was linked already: the second login links nothing.
    assert len(links_of(runtime)) == 1


def test_an_address_of_the_providers_domain_is_sent_there(
    browser: TestClient, up: Upstream
) -> None:
    flow, csrf, _ = login_page(browser)
    sent = browser.post("/login", data={"flow": flow, "csrf": csrf, "username": "Pat@Corp.example"})
    assert sent.status_code == 303 and sent.headers["location"].startswith(f"{up.issuer}/auth?")


def test_a_wrong_state_or_a_replayed_callback_signs_nobody_in(
    browser: TestClient, up: Upstream, runtime: Runtime
) -> None:
    query = to_upstream(browser)
    forged = browser.get("/login/federated/corp/callback", params={"state": "x", "code": "c"})
    assert forged.status_code == 400 and FAILED in forged.text
    assert failures(runtime) == ["the callback's state does not match this login"]
    # The forged attempt used the pending login up: the real answer finds nothing either.
    assert come_back(browser, up, query).status_code == 400
    assert users_of(runtime) == [] and up.token_requests == []

    query = to_upstream(browser)
    assert come_back(browser, up, query).status_code in (302, 303)
    assert come_back(browser, up, query).status_code == 400


def test_bad_id_tokens_sign_nobody_in(browser: TestClient, up: Upstream, runtime: Runtime) -> None:
    for claims in ({"aud": "other"}, {"iss": "https://evil.example"}):
        assert come_back(browser, up, to_upstream(browser), **claims).status_code == 400
    # A token made for another login (its nonce) is not this login's.
    other_login = to_upstream(browser)
    query = to_upstream(browser)
    up.id_token = up.sign(up.claims(nonce=other_login["nonce"]))
    wrong_nonce = browser.get(
        "/login/federated/corp/callback", params={"state": query["state"], "code": "c"}
    )
    assert wrong_nonce.status_code == 400 and "nonce" not in wrong_nonce.text
    assert "nonce" in failures(runtime)[-1]
    query = to_upstream(browser)
    up.id_token = unsigned(up.claims(nonce=query["nonce"], sub="someone-else"))
    refused = browser.get(
        "/login/federated/corp/callback", params={"state": query["state"], "code": "c"}
    )
    assert refused.status_code == 400
    assert users_of(runtime) == []


def test_a_disabled_provider_neither_starts_nor_finishes(
    browser: TestClient, up: Upstream, runtime: Runtime
) -> None:
    query = to_upstream(browser)
    with runtime.sessions() as session:
        service = IdentityProviderService(session, ACTOR, runtime.settings)
        service.update(service.get("corp"), IdentityProviderUpdate(enabled=False))
    assert come_back(browser, up, query).status_code == 400
    flow, _, page = login_page(browser)
    assert "Continue with Corp SSO" not in page
    assert browser.get(f"/login/federated/corp?flow={flow}").status_code == 400
    assert users_of(runtime) == []


def test_a_failed_login_tells_the_person_only_that_it_failed_and_the_operator_why(
    browser: TestClient, up: Upstream, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ostiary.federation")
    query = to_upstream(browser)
    up.id_token = up.sign(up.claims(nonce=query["nonce"], aud="another-client"))
    german = browser.get(
        "/login/federated/corp/callback",
        params={"state": query["state"], "code": "c"},
        headers={"Accept-Language": "de"},
    )
    assert german.status_code == 400 and FAILED_DE in german.text and FAILED not in german.text
    (reason,) = failures(runtime)
    assert reason.startswith("the ID token is not valid") and reason in caplog.text
    assert "ID token" not in german.text and "another-client" not in german.text

    # The upstream's token endpoint cannot be reached: its address and error stay in the logs.
    query = to_upstream(browser)
    with runtime.sessions() as session:
        service = IdentityProviderService(session, ACTOR, runtime.settings)
        service.update(service.get("corp"), IdentityProviderUpdate(issuer="http://127.0.0.1:9"))
    english = come_back(browser, up, query)
    assert english.status_code == 400 and FAILED in english.text
    assert "127.0.0.1" not in english.text and "127.0.0.1:9" in failures(runtime)[-1]
    assert users_of(runtime) == []


def test_an_unknown_provider_is_logged_but_not_audited(
    browser: TestClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """Anyone can type a provider's key into the address bar: only a registered provider's
    failures are worth an audit event."""
    caplog.set_level(logging.WARNING, logger="ostiary.federation")
    flow, _, _ = login_page(browser)
    answer = browser.get(f"/login/federated/{'x' * 5000}?flow={flow}")
    assert answer.status_code == 400 and FAILED in answer.text
    assert failures(runtime) == [] and "x" * 101 not in caplog.text and "x" * 100 in caplog.text
