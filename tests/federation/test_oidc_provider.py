"""Federated login against oidc-provider, a certified OpenID provider, over real HTTP: its
development login form stands in for the upstream's sign-in (tests/peers/oidc_upstream.mjs)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2 as httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.audit.actor import Actor
from ostiary.federation.schemas import IdentityProviderCreate
from ostiary.federation.services import IdentityProviderService
from ostiary.runtime import Runtime
from ostiary.server import free_port
from ostiary.users.domains import DomainService
from ostiary.users.models import ExternalIdentity, User
from ostiary.users.schemas import DomainCreate
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.protocols.oidc.conftest import make_client, make_world
from tests.protocols.oidc.test_attacks import authorize_params
from tests.protocols.oidc.test_openid_client import PEERS
from tests.protocols.oidc.test_openid_client import node as openid_node

node = openid_node
CALLBACK = "http://testserver/login/federated/corp/callback"
ACTOR = Actor("test", "cli")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver"}


@pytest.fixture
def issuer(node: str, runtime: Runtime) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [node, str(PEERS / "oidc_upstream.mjs"), str(port), "ostiary", "upstream-secret", CALLBACK],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        issuer = f"http://127.0.0.1:{port}"
        with runtime.sessions() as session:
            DomainService(session, ACTOR).create(
                DomainCreate(name="CORP", kind="delegated", context_types=["account"])
            )
            IdentityProviderService(session, ACTOR, runtime.settings).create(
                IdentityProviderCreate(
                    key="corp",
                    name="Corp SSO",
                    issuer=issuer,
                    client_id="ostiary",
                    client_secret="upstream-secret",
                    scopes=["openid", "email", "profile"],
                    domain="CORP",
                    roles_claim="roles",
                )
            )
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def browser(runtime: Runtime, issuer: str) -> Iterator[TestClient]:
    make_world(runtime)
    make_client(runtime, "spa")
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def sign_in_upstream(url: str, login: str) -> str:
    """Plays the person at oidc-provider's forms; the URL it sends the browser back to."""
    with httpx.Client(follow_redirects=False, timeout=10) as upstream:
        for _ in range(12):
            if url.startswith(CALLBACK):
                return url
            answer = upstream.get(url)
            if answer.status_code in (302, 303):
                url = urljoin(url, answer.headers["location"])
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"', answer.text)
            assert form, answer.text
            fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', answer.text))
            fields.update({"login": login, "password": "any"} if "login" in answer.text else {})
            posted = upstream.post(urljoin(url, unescape(form.group(1))), data=fields)
            assert posted.status_code in (302, 303), posted.text
            url = urljoin(url, posted.headers["location"])
    raise AssertionError("oidc-provider never sent the browser back")


def federated_login(browser: TestClient, login: str) -> tuple[dict[str, str], object]:
    first = browser.get("/oauth2/authorize", params=authorize_params())
    page = browser.get(first.headers["location"]).text
    flow = re.search(r'name="flow" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    sent = browser.get(f"/login/federated/corp?flow={flow}")
    back = sign_in_upstream(sent.headers["location"], login)
    query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    return query, browser.get(urlsplit(back).path, params=query)


def test_a_login_through_oidc_provider_makes_a_user_then_signs_the_same_one_in(
    browser: TestClient, runtime: Runtime
) -> None:
    query, done = federated_login(browser, "pat")
    assert done.status_code in (302, 303), done.text  # type: ignore[attr-defined]
    # Signed in and back at the application, which a new user of CORP is not open to yet.
    answer = done.headers["location"]  # type: ignore[attr-defined]
    assert answer.startswith("http://127.0.0.1:9/callback?error=access_denied"), answer
    assert "no+context+where+this+application" in answer
    browser.cookies.clear()
    _, again = federated_login(browser, "pat")
    assert again.status_code in (302, 303)  # type: ignore[attr-defined]
    with runtime.sessions() as session:
        rows = session.execute(
            select(User.email, User.email_verified, ExternalIdentity.subject).join(
                ExternalIdentity, ExternalIdentity.user_id == User.id
            )
        ).all()
    assert [tuple(r) for r in rows] == [("pat@corp.example", True, "pat")]
    # The code was used once: a replay of the callback signs nobody in.
    replay = browser.get("/login/federated/corp/callback", params=query)
    assert replay.status_code == 400
