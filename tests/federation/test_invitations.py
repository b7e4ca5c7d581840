"""Accepting an invitation through an upstream provider: a new account linked to the identity
lands in the context with the groups; an account the provider already signs in joins."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from ostiary.users.models import ExternalIdentity, Membership, User
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.federation import test_login
from tests.federation.upstream import Upstream
from tests.helpers import make_context, make_user, root_id
from tests.web.test_invitations import csrf_of, invite, outbox_link

up = test_login.up
JEREMY = "jeremy.mills@citygroup.example"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver", "message_worker": False}


@pytest.fixture
def browser(runtime: Runtime, up: Upstream) -> Iterator[TestClient]:
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def through_upstream(browser: TestClient, up: Upstream, link: str, subject: str) -> object:
    browser.get(link)
    page = browser.get("/invite")
    assert "Continue with Corp SSO" in page.text
    sent = browser.post("/invite/federated/corp", data={"csrf": csrf_of(page.text)})
    assert sent.status_code == 303 and sent.headers["location"].startswith(up.issuer), sent.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(sent.headers["location"]).query).items()}
    up.id_token = up.sign(up.claims(nonce=query["nonce"], sub=subject))
    return browser.get(
        "/login/federated/corp/callback", params={"state": query["state"], "code": "c"}
    )


def members_of(runtime: Runtime, context_key: str) -> list[tuple[str, str]]:
    from ostiary.contexts.models import Context

    with runtime.sessions() as session:
        rows = session.execute(
            select(User.email, ExternalIdentity.subject)
            .join(Membership, Membership.user_id == User.id)
            .join(Context, Context.id == Membership.context_id)
            .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
            .where(Context.key == context_key)
        )
        return sorted((str(email), str(subject)) for email, subject in rows)


def test_an_invitation_accepted_upstream_lands_in_the_context(
    client: TestClient, browser: TestClient, up: Upstream, runtime: Runtime
) -> None:
    city = str(make_context(client, root_id(client), "account", "City Group", key="city")["id"])
    invitation = invite(client, city, JEREMY)
    done = through_upstream(browser, up, outbox_link(runtime, JEREMY), "jeremy-at-corp")
    assert done.headers["location"] == f"/invite/welcome?invitation={invitation['id']}"  # type: ignore[attr-defined]
    welcome = browser.get(done.headers["location"])  # type: ignore[attr-defined]
    assert "You are now a member of City Group." in welcome.text
    assert members_of(runtime, "city") == [(JEREMY, "jeremy-at-corp")]
    ((linked, changes),) = test_login.links_of(runtime)
    assert changes == {"provider": "corp", "subject": "jeremy-at-corp"}

    # The same person, invited elsewhere, joins with the account the provider signs in.
    works = str(make_context(client, root_id(client), "account", "City Works", key="works")["id"])
    invite(client, works, JEREMY)
    browser.cookies.clear()
    joined = through_upstream(browser, up, outbox_link(runtime, JEREMY), "jeremy-at-corp")
    assert joined.headers["location"].startswith("/invite/welcome?invitation=")  # type: ignore[attr-defined]
    assert members_of(runtime, "works") == [(JEREMY, "jeremy-at-corp")]
    with runtime.sessions() as session:
        (user,) = session.scalars(select(User).where(User.email == JEREMY)).all()
    assert test_login.links_of(runtime) == [(str(user.id), changes)]


def test_an_upstream_identity_cannot_take_over_an_existing_account(
    client: TestClient, browser: TestClient, up: Upstream, runtime: Runtime
) -> None:
    city = str(make_context(client, root_id(client), "account", "City Group", key="city")["id"])
    make_user(client, "jeremy", domain="ENTERPRISE", status="active", email=JEREMY,
              context_ids=[city], password="City Group keeps the lights on")  # fmt: skip
    works = str(make_context(client, root_id(client), "account", "City Works", key="works")["id"])
    invite(client, works, JEREMY)
    refused = through_upstream(browser, up, outbox_link(runtime, JEREMY), "mallory")
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert "sign in to accept" in refused.text  # type: ignore[attr-defined]
    with runtime.sessions() as session:
        assert session.scalars(select(ExternalIdentity)).all() == []
    assert members_of(runtime, "works") == [] and test_login.links_of(runtime) == []
