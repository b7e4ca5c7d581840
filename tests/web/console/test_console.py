"""The console over HTTP: sign-in as an OAuth client of this server, what a contact person
sees and may do in their organization's subtree, and attacks that fail like at the API."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.audit.models import AuditEvent
from ostiary.invitations.models import Invitation
from ostiary.runtime import Runtime
from ostiary.users.models import User, UserStatus
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.web.console.support import (
    csrf_of,
    follow_sign_in,
    make_world,
    query_of,
    sign_in,
    user_id,
)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False}


@pytest.fixture
def browser(runtime: Runtime, tmp_path: Path) -> Iterator[TestClient]:
    make_world(runtime, tmp_path)
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def _status(runtime: Runtime, username: str) -> str:
    with runtime.sessions() as session:
        return str(session.scalars(select(User.status).where(User.username == username)).one())


def test_sign_in_goes_through_the_authorization_endpoint_with_pkce(browser: TestClient) -> None:
    start = browser.get("/console")
    assert start.status_code == 303 and start.headers["location"] == "/console/login"
    login = browser.get("/console/login")
    params = query_of(login.headers["location"])
    assert login.headers["location"].startswith("/oauth2/authorize?")
    assert params["client_id"] == "ostiary-console"
    assert params["code_challenge_method"] == "S256" and params["state"] and params["nonce"]
    cookie = login.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    page = sign_in(browser, "carla", "City Group")
    assert "City Group" in page and 'id="nav-users"' in page and 'id="nav-invite"' in page


def test_a_callback_with_a_foreign_state_signs_nobody_in(browser: TestClient) -> None:
    sign_in(browser, "carla", "City Group")
    browser.cookies.delete("ostiary_console")
    browser.get("/console/login")  # a state of this browser, but not the one answered
    answer = browser.get("/console/callback", params={"code": "stolen", "state": "forged"})
    assert answer.status_code == 400
    assert browser.get("/console").status_code == 303


def test_a_member_without_admin_rights_is_not_let_in(browser: TestClient) -> None:
    page = sign_in(browser, "jeremy")
    assert 'id="denied"' in page
    assert browser.get("/console/users").status_code == 303


def test_users_of_the_subtree_only_with_search_and_filters(
    browser: TestClient, runtime: Runtime
) -> None:
    sign_in(browser, "carla", "City Group")
    page = browser.get("/console/users").text
    assert "jeremy" in page and "nora" in page and "olga" not in page
    found = browser.get("/console/users", params={"q": "mill"}).text
    assert "jeremy" in found and "nora" not in found
    rows = browser.get("/console/users", params={"status": "inactive"}, headers={"HX-Request": "1"})
    assert 'id="no-users"' in rows.text and "<html" not in rows.text


def test_another_organizations_user_is_not_found_and_the_attempt_audited(
    browser: TestClient, runtime: Runtime
) -> None:
    sign_in(browser, "carla", "City Group")
    olga = user_id(runtime, "olga")
    answer = browser.get(f"/console/users/{olga}")
    assert answer.status_code == 404 and 'id="problem-title"' in answer.text
    assert "olga" not in answer.text
    page = browser.get(f"/console/users/{user_id(runtime, 'jeremy')}").text
    refused = browser.post(f"/console/users/{olga}/deactivate", data={"csrf": csrf_of(page)})
    assert refused.status_code == 404
    assert _status(runtime, "olga") == UserStatus.ACTIVE
    with runtime.sessions() as session:
        events = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "access.out_of_reach", AuditEvent.target_id == olga
            )
        ).all()
    assert len(events) == 2


def test_a_forged_form_changes_nothing(browser: TestClient, runtime: Runtime) -> None:
    sign_in(browser, "carla", "City Group")
    jeremy = user_id(runtime, "jeremy")
    forged = browser.post(f"/console/users/{jeremy}/deactivate", data={"csrf": "x" * 64})
    assert forged.status_code == 403
    assert _status(runtime, "jeremy") == UserStatus.ACTIVE
    # Without a console session at all, nothing happens either.
    stranger = TestClient(browser.app, client=LOCAL_CLIENT, follow_redirects=False)
    assert (
        stranger.post(f"/console/users/{jeremy}/deactivate", data={"csrf": ""}).status_code == 303
    )
    assert _status(runtime, "jeremy") == UserStatus.ACTIVE


def test_deactivate_then_delete_after_a_confirmation(browser: TestClient, runtime: Runtime) -> None:
    sign_in(browser, "carla", "City Group")
    jeremy = user_id(runtime, "jeremy")
    page = browser.get(f"/console/users/{jeremy}").text
    assert 'id="action-deactivate"' in page and 'id="action-delete"' not in page
    done = browser.post(f"/console/users/{jeremy}/deactivate", data={"csrf": csrf_of(page)})
    assert done.status_code == 303
    page = browser.get(done.headers["location"]).text
    assert 'id="action-activate"' in page and 'id="action-delete"' in page
    confirm = browser.get(f"/console/users/{jeremy}/delete").text
    assert "cannot be undone" in confirm
    browser.post(f"/console/users/{jeremy}/delete", data={"csrf": csrf_of(confirm)})
    with runtime.sessions() as session:
        gone = session.get(User, uuid.UUID(jeremy))
        assert gone is not None and gone.status == UserStatus.DELETED and gone.username != "jeremy"


def test_groups_and_effective_rights_with_their_explanation(
    browser: TestClient, runtime: Runtime
) -> None:
    sign_in(browser, "carla", "City Group")
    jeremy = user_id(runtime, "jeremy")
    page = browser.get(f"/console/users/{jeremy}").text
    ids = {
        name: gid
        for gid, name in re.findall(
            r'id="group-([0-9a-f-]{36})"[^>]*>\s*<label[^>]*>([^<]+)<', page
        )
    }
    answer = browser.post(
        f"/console/users/{jeremy}/groups",
        data={"csrf": csrf_of(page), "groups": [ids["Planners"]]},
    )
    assert answer.status_code == 303
    page = browser.get(f"/console/users/{jeremy}").text
    assert re.search(rf'id="group-{ids["Planners"]}"[^>]*checked', page)
    # Carla's own rights, explained: the group that gave each.
    own = browser.get(f"/console/users/{user_id(runtime, 'carla')}").text
    assert "users.read" in own and "group Contact persons" in own


def test_invite_many_with_a_result_per_entry(browser: TestClient, runtime: Runtime) -> None:
    sign_in(browser, "carla", "City Group")
    form = browser.get("/console/invitations").text
    empty = browser.post("/console/invitations", data={"csrf": csrf_of(form), "emails": " "})
    assert empty.status_code == 422 and 'id="emails-error"' in empty.text
    answer = browser.post(
        "/console/invitations",
        data={"csrf": csrf_of(form), "emails": "ann@city.example\nnot-an-address"},
        files={"file": ("people.csv", b"email,name\nben@city.example,Ben\n", "text/csv")},
    )
    assert answer.status_code == 200
    assert answer.text.count("Invitation sent") == 2 and 'class="error"' in answer.text
    with runtime.sessions() as session:
        invited = set(session.scalars(select(Invitation.email)).all())
    assert invited == {"ann@city.example", "ben@city.example"}


def test_the_audit_log_of_the_subtree_with_filters(browser: TestClient, runtime: Runtime) -> None:
    sign_in(browser, "carla", "City Group")
    page = browser.get("/console/audit", params={"action": "user.created"}).text
    assert "jeremy" in page or "user.created" in page
    bad = browser.get("/console/audit", params={"since": "yesterday"})
    assert (
        bad.status_code == 422
        and 'id="since-error"' in bad.text
        and 'value="yesterday"' in bad.text
    )


def test_switching_context_is_a_new_authorization(browser: TestClient, runtime: Runtime) -> None:
    page = sign_in(browser, "carla", "City Group")
    assert 'id="switch-context"' in page
    switched = browser.post("/console/switch", data={"csrf": csrf_of(page), "context": "other"})
    assert switched.headers["location"] == "/console/login?context=other"
    # Carla holds no ostiary rights in Other Org: the console stays closed there...
    page = follow_sign_in(browser, switched.headers["location"], "carla")
    assert 'id="denied"' in page
    # ...and she goes on in City Group.
    assert "City Group" in browser.get("/console").text


def test_signing_out_ends_the_console_session(browser: TestClient) -> None:
    page = sign_in(browser, "carla", "City Group")
    out = browser.post("/console/logout", data={"csrf": csrf_of(page)})
    assert out.status_code == 200
    assert browser.get("/console").status_code == 303


def test_pages_follow_the_users_language(browser: TestClient) -> None:
    page = sign_in(browser, "carla", "City Group")
    assert "Users" in page
    german = browser.get("/console/users", headers={"Accept-Language": "de"}).text
    assert "Benutzer" in german


def test_the_pages_need_no_api_ip_allow_but_the_api_does(
    browser: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    """``API IP Allow`` governs API calls (document 003): a contact person with the shipped
    account-administrator template, which holds none, administers in the console but is
    refused at the API."""
    from ostiary.provisioning.apply import Provisioner
    from ostiary.provisioning.document import load_documents
    from tests.web.console.support import PASSWORD

    path = tmp_path / "acme.yaml"
    path.write_text(
        f"""
contexts:
  - {{key: acme, type: account, name: Acme, parent: root}}
groups:
  - {{context: acme, name: Administrators, template: account-administrator}}
users:
  - {{username: amy, domain: ENTERPRISE, email: amy@acme.example, password: "{PASSWORD}",
     status: active, memberships: [{{context: acme, groups: [Administrators]}}]}}
  - {{username: ben, domain: ENTERPRISE, email: ben@acme.example, status: active,
     memberships: [{{context: acme}}]}}
""",
        encoding="utf-8",
    )
    with runtime.sessions() as session:
        Provisioner(runtime, session).apply(load_documents([path]))
    page = sign_in(browser, "amy")
    assert 'id="nav-users"' in page
    assert "ben" in browser.get("/console/users").text
    api = TestClient(browser.app, client=LOCAL_CLIENT)
    api.auth = ("amy", PASSWORD)
    assert api.get("/api/v1/users").status_code == 403
