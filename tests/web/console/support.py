"""A world for the console: two organizations, a contact person of each, members, and a
browser that signs in to the console through the real authorization flow."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.provisioning.apply import Provisioner
from ostiary.provisioning.document import load_documents
from ostiary.runtime import Runtime
from ostiary.users.models import User

PASSWORD = "Correct horse battery staple 42"
WORLD = f"""
contexts:
  - {{key: city, type: account, name: City Group, parent: root}}
  - {{key: city-north, type: customer, name: City North, parent: city}}
  - {{key: other, type: account, name: Other Org, parent: root}}
groups:
  - {{context: city, name: Contact persons, template: account-administrator,
     rights: {{ostiary: {{"API IP Allow": "0.0.0.0/0"}}}}}}
  - {{context: city, name: Planners}}
  - {{context: other, name: Contact persons, template: account-administrator,
     rights: {{ostiary: {{"API IP Allow": "0.0.0.0/0"}}}}}}
users:
  - {{username: carla, domain: ENTERPRISE, email: carla@city.example, first_name: Carla,
     last_name: Contact, password: "{PASSWORD}", status: active,
     memberships: [{{context: city, groups: [Contact persons]}}, {{context: other}}]}}
  - {{username: jeremy, domain: ENTERPRISE, email: jeremy@city.example, first_name: Jeremy,
     last_name: Mills, password: "{PASSWORD}", status: active,
     memberships: [{{context: city}}]}}
  - {{username: nora, domain: ENTERPRISE, email: nora@north.example, first_name: Nora,
     password: "{PASSWORD}", status: active, memberships: [{{context: city-north}}]}}
  - {{username: olga, domain: ENTERPRISE, email: olga@other.example, first_name: Olga,
     password: "{PASSWORD}", status: active,
     memberships: [{{context: other, groups: [Contact persons]}}]}}
"""


def make_world(runtime: Runtime, directory: Path) -> None:
    path = directory / f"world-{uuid.uuid4().hex}.yaml"
    path.write_text(WORLD, encoding="utf-8")
    with runtime.sessions() as session:
        report = Provisioner(runtime, session).apply(load_documents([path]))
    assert not getattr(report, "problems", None), report


def user_id(runtime: Runtime, username: str) -> str:
    with runtime.sessions() as session:
        return str(session.scalars(select(User.id).where(User.username == username)).one())


def _field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def csrf_of(page: str) -> str:
    return _field(page, "csrf")


def follow_sign_in(
    browser: TestClient,
    first: str,
    username: str,
    context_name: str | None = None,
    password: str = PASSWORD,
) -> str:
    """From ``first`` through the login (and the context chooser) to the console page; the
    page's text."""
    answer = browser.get(first)
    for _ in range(12):
        if answer.status_code != 303:
            assert answer.status_code in (200, 403), answer.text
            return answer.text
        location = answer.headers["location"]
        path = urlsplit(location).path
        if path == "/login" and "flow=" in location:
            page = browser.get(location).text
            fields = {"flow": _field(page, "flow"), "csrf": csrf_of(page)}
            answer = browser.post(
                "/login", data={**fields, "username": username, "password": password}
            )
        elif path == "/login/context":
            page = browser.get(location).text
            fields = {"flow": _field(page, "flow"), "csrf": csrf_of(page)}
            chosen = re.findall(r'value="([0-9a-f-]{36})"[^>]*>\s*([^<\n]+)', page)
            wanted = next(i for i, name in chosen if context_name is None or name == context_name)
            answer = browser.post("/login/context", data={**fields, "context": wanted})
        else:
            answer = browser.get(location)
    raise AssertionError("the sign-in did not end")


def sign_in(browser: TestClient, username: str, context_name: str | None = None) -> str:
    return follow_sign_in(browser, "/console", username, context_name)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
