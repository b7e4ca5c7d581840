"""``/account/organizations``: the user's organizations with their groups, invitations to
their address accepted from the page, and requests to join an organization."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.contexts.models import Context
from ostiary.runtime import Runtime
from ostiary.users.models import Membership, User
from tests.web import account_support
from tests.web.account_support import open_signed_in
from tests.web.console.support import follow_sign_in

# The fixtures of the account pages.
settings_overrides = account_support.settings_overrides
world = account_support.world
browser = account_support.browser


def _context_id(runtime: Runtime, key: str) -> str:
    with runtime.sessions() as session:
        return str(session.scalars(select(Context.id).where(Context.key == key)).one())


def _member(runtime: Runtime, username: str, key: str) -> bool:
    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        context = session.scalars(select(Context).where(Context.key == key)).one()
        return session.get(Membership, (user.id, context.id)) is not None


def test_organizations_with_their_groups(browser: TestClient) -> None:
    page, _ = open_signed_in(browser, "/account/organizations", "carla")
    assert 'id="account-nav-organizations" aria-current="page"' in page
    memberships = page.split('id="memberships"', 1)[1].split("</ul>", 1)[0]
    assert "City Group" in memberships and "Contact persons" in memberships
    assert "Other Org" in memberships


def test_accept_an_invitation_to_the_own_address(
    browser: TestClient, client: TestClient, world: Runtime
) -> None:
    made = client.post(
        "/api/v1/invitations",
        json={"context_id": _context_id(world, "other"), "email": "jeremy@city.example"},
    )
    assert made.status_code == 201, made.text
    page, csrf = open_signed_in(browser, "/account/organizations")
    invitation = re.search(r'<li id="invitation-([0-9a-f-]{36})"', page).group(1)  # type: ignore[union-attr]
    assert "Other Org" in page.split('id="invitations"', 1)[1]
    path = f"/account/organizations/invitations/{invitation}/accept"
    assert browser.post(path, data={"csrf": "forged"}).status_code == 403
    assert not _member(world, "jeremy", "other")
    joined = browser.post(path, data={"csrf": csrf})
    assert joined.status_code == 303 and joined.headers["location"].endswith("?done=joined")
    after = browser.get(joined.headers["location"]).text
    assert "You are a member now." in after and 'id="no-invitations"' in after
    assert _member(world, "jeremy", "other")
    assert client.get(f"/api/v1/invitations/{invitation}").json()["state"] == "accepted"
    again = browser.post(path, data={"csrf": csrf})
    assert again.status_code == 404 and 'id="invitations-error"' in again.text


def test_an_invitation_to_another_address_is_not_offered(
    browser: TestClient, client: TestClient, world: Runtime
) -> None:
    made = client.post(
        "/api/v1/invitations",
        json={"context_id": _context_id(world, "other"), "email": "someone@else.example"},
    )
    page, csrf = open_signed_in(browser, "/account/organizations")
    assert 'id="no-invitations"' in page
    path = f"/account/organizations/invitations/{made.json()['id']}/accept"
    assert browser.post(path, data={"csrf": csrf}).status_code == 404
    assert not _member(world, "jeremy", "other")


def test_ask_to_join_and_see_the_request(browser: TestClient, world: Runtime) -> None:
    page, csrf = open_signed_in(browser, "/account/organizations")
    assert 'id="no-join-requests"' in page and 'id="ask-to-join"' in page
    empty = browser.post("/account/organizations/join-requests", data={"csrf": csrf})
    assert empty.status_code == 422 and 'id="organization-error"' in empty.text
    unknown = browser.post(
        "/account/organizations/join-requests", data={"csrf": csrf, "organization": "Nowhere"}
    )
    assert unknown.status_code == 404
    assert 'id="organization-error">No organization takes requests' in unknown.text
    assert 'value="Nowhere"' in unknown.text
    forged = browser.post(
        "/account/organizations/join-requests", data={"csrf": "x", "organization": "Other Org"}
    )
    assert forged.status_code == 403
    asked = browser.post(
        "/account/organizations/join-requests", data={"csrf": csrf, "organization": "Other Org"}
    )
    assert asked.status_code == 303
    after = browser.get(asked.headers["location"]).text
    requests = after.split('id="join-requests"', 1)[1].split("</ul>", 1)[0]
    assert "Other Org" in requests and "Waiting for a decision" in requests
    twice = browser.post(
        "/account/organizations/join-requests", data={"csrf": csrf, "organization": "Other Org"}
    )
    assert twice.status_code == 409 and "waits already" in twice.text
    member = browser.post(
        "/account/organizations/join-requests", data={"csrf": csrf, "organization": "City Group"}
    )
    assert member.status_code == 409


def test_no_request_form_where_registration_is_off(
    browser: TestClient, world: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(world.settings, "registration_parent", "")
    page = follow_sign_in(browser, "/account/organizations", "jeremy")
    assert 'id="ask-to-join"' not in page and 'id="requests-heading"' in page


def test_withdraw_a_waiting_request(browser: TestClient, world: Runtime) -> None:
    page, csrf = open_signed_in(browser, "/account/organizations")
    asked = browser.post(
        "/account/organizations/join-requests", data={"csrf": csrf, "organization": "Other Org"}
    )
    page = browser.get(asked.headers["location"]).text
    request_id = re.search(r'<li id="join-request-([0-9a-f-]{36})"', page).group(1)  # type: ignore[union-attr]
    assert f'id="withdraw-{request_id}"' in page
    path = f"/account/organizations/join-requests/{request_id}/withdraw"
    assert browser.post(path, data={"csrf": "forged"}).status_code == 403
    withdrawn = browser.post(path, data={"csrf": csrf})
    assert withdrawn.status_code == 303 and withdrawn.headers["location"].endswith(
        "?done=withdrawn"
    )
    after = browser.get(withdrawn.headers["location"]).text
    assert 'id="organizations-notice">Your request is withdrawn.' in after
    requests = after.split('id="join-requests"', 1)[1].split("</ul>", 1)[0]
    assert "Withdrawn" in requests and f'id="withdraw-{request_id}"' not in requests
    twice = browser.post(path, data={"csrf": csrf})
    assert twice.status_code == 409 and 'id="requests-error"' in twice.text
    unknown = browser.post(
        "/account/organizations/join-requests/not-an-id/withdraw", data={"csrf": csrf}
    )
    assert unknown.status_code == 404 and 'id="requests-error"' in unknown.text
