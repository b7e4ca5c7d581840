"""The console and the admin API for a delegated user whose administration rights come from a
role mapping (step e1) alone: the login with the role opens them and may grant what the role's
group holds; a login without the role finds them closed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.access.models import UserGroup
from ostiary.access.modules import ModuleService
from ostiary.audit.actor import Actor
from ostiary.contexts.models import Context
from ostiary.provisioning.apply import Provisioner
from ostiary.provisioning.document import load_documents
from ostiary.runtime import Runtime
from ostiary.users.models import ExternalIdentity, User
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.federation import test_login
from tests.federation.upstream import Upstream
from tests.protocols.oidc.conftest import make_client
from tests.protocols.oidc.test_attacks import authorize_params, exchange
from tests.web.console.support import csrf_of

up = test_login.up
ACTOR = Actor("test", "cli")
WORLD = """
contexts:
  - {key: city, type: account, name: City Group, parent: root}
groups:
  - {context: city, name: Administrators by role, role: city-admins,
     template: account-administrator, rights: {ostiary: {"API IP Allow": "0.0.0.0/0"}}}
users:
  - {username: pat, domain: CORP, email: pat@corp.example, status: active,
     memberships: [{context: city}]}
"""


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver", "message_worker": False}


@pytest.fixture
def browser(runtime: Runtime, up: Upstream, tmp_path: Path) -> Iterator[TestClient]:
    path = tmp_path / f"world-{uuid.uuid4().hex}.yaml"
    path.write_text(WORLD, encoding="utf-8")
    with runtime.sessions() as session:
        report = Provisioner(runtime, session).apply(load_documents([path]))
        assert not getattr(report, "problems", None), report
        pat = session.scalars(select(User).where(User.username == "pat")).one()
        with session.atomic():
            session.add(ExternalIdentity(user_id=pat.id, idp="corp", subject="pat-at-corp"))
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def console_through_upstream(
    browser: TestClient, up: Upstream, **claims: object
) -> tuple[int, str]:
    """From ``/console`` through the upstream's login to the console; its status and text."""
    browser.cookies.clear()
    answer = browser.get("/console")
    for _ in range(12):
        if answer.status_code != 303:
            return answer.status_code, answer.text
        location = answer.headers["location"]
        parts = urlsplit(location)
        if parts.path == "/login" and "flow=" in location:
            flow = parse_qs(parts.query)["flow"][0]
            sent = browser.get(f"/login/federated/corp?flow={flow}")
            query = {k: v[0] for k, v in parse_qs(urlsplit(sent.headers["location"]).query).items()}
            up.id_token = up.sign(up.claims(nonce=query["nonce"], sub="pat-at-corp", **claims))
            answer = browser.get(
                "/login/federated/corp/callback", params={"state": query["state"], "code": "c"}
            )
        else:
            answer = browser.get(location)
    raise AssertionError("the sign-in did not end")


def test_a_role_opens_the_console_and_lets_its_holder_grant_what_the_role_holds(
    browser: TestClient, up: Upstream, runtime: Runtime
) -> None:
    status, page = console_through_upstream(browser, up, roles=["city-admins"])
    assert status == 200 and "City Group" in page
    users = browser.get("/console/users")
    assert users.status_code == 200 and "pat" in users.text

    with runtime.sessions() as session:
        city = session.scalars(select(Context).where(Context.key == "city")).one()
    csrf = csrf_of(browser.get(f"/console/contexts/{city.id}/groups").text)
    made = browser.post(
        f"/console/contexts/{city.id}/groups/new",
        data={"csrf": csrf, "name": "Readers", "role": "", "template": "account-user"},
    )
    assert made.status_code == 303, made.text
    with runtime.sessions() as session:
        assert session.scalars(select(UserGroup).where(UserGroup.name == "Readers")).one()

    status, page = console_through_upstream(browser, up, roles=["city-readers"])
    assert status == 403
    assert browser.get("/console/users").status_code in (303, 403)


def test_the_login_with_the_role_has_a_bearer_token_for_the_admin_api(
    browser: TestClient, up: Upstream, runtime: Runtime
) -> None:
    with runtime.sessions() as session:
        ostiary = ModuleService(session, ACTOR).find("ostiary")
        assert ostiary is not None
        module_id = ostiary.id
    make_client(runtime, "admin-app", module_id=module_id)
    params = authorize_params(client_id="admin-app")

    def sign_in(**claims: object) -> Any:
        browser.cookies.clear()
        first = browser.get("/oauth2/authorize", params=params)
        flow = parse_qs(urlsplit(first.headers["location"]).query)["flow"][0]
        sent = browser.get(f"/login/federated/corp?flow={flow}")
        query = {k: v[0] for k, v in parse_qs(urlsplit(sent.headers["location"]).query).items()}
        up.id_token = up.sign(up.claims(nonce=query["nonce"], sub="pat-at-corp", **claims))
        done = browser.get(
            "/login/federated/corp/callback", params={"state": query["state"], "code": "c"}
        )
        return parse_qs(urlsplit(done.headers["location"]).query)

    answer = sign_in(roles=["city-admins"])
    issued = exchange(browser, answer["code"][0], client_id="admin-app")
    assert issued.status_code == 200, issued.text
    bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    users = browser.get("/api/v1/users", headers=bearer)
    assert users.status_code == 200, users.text
    assert [u["username"] for u in users.json()["items"]] == ["pat"]

    # Without the role the application is not open to pat anywhere: no code, no token.
    assert sign_in(roles=["city-readers"])["error"] == ["access_denied"]
