"""Driving a login with a second factor through the pages, in process."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.messages.models import Message
from ostiary.runtime import Runtime
from ostiary.users.models import User
from tests.protocols.oidc.conftest import PASSWORD, REDIRECT
from tests.protocols.oidc.test_attacks import authorize_params

USERNAME = "jeremy"


def form_fields(page: str) -> dict[str, str]:
    return {
        name: re.search(rf'name="{name}" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        for name in ("flow", "csrf")
    }


def start(browser: TestClient, **extra: str) -> dict[str, str]:
    """A new login flow: the hidden fields of its password page."""
    first = browser.get("/oauth2/authorize", params=authorize_params(**extra))
    assert first.status_code in (302, 303), first.text
    return form_fields(browser.get(first.headers["location"]).text)


def password(browser: TestClient, fields: dict[str, str], secret: str = PASSWORD) -> Any:
    return browser.post("/login", data={**fields, "username": USERNAME, "password": secret})


def enter(browser: TestClient, fields: dict[str, str], code: str, method: str = "code") -> Any:
    return browser.post("/login/second-factor", data={**fields, "method": method, "code": code})


def redirected_code(response: Any) -> str | None:
    location = response.headers.get("location", "")
    if not location.startswith(REDIRECT):
        return None
    return parse_qs(urlsplit(location).query).get("code", [None])[0]


def messages_for(
    runtime: Runtime, username: str = USERNAME, channel: str | None = None
) -> list[Message]:
    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        stmt = select(Message).where(
            Message.user_id == user.id, Message.purpose == "second-factor-code"
        )
        if channel:
            stmt = stmt.where(Message.channel == channel)
        return list(session.scalars(stmt.order_by(Message.created_at, Message.id)))


def last_code(runtime: Runtime, username: str = USERNAME, channel: str | None = None) -> str:
    found = messages_for(runtime, username, channel)
    assert found, "no code was sent"
    match = re.search(r"\b(\d{6,10})\b", found[-1].text or "")
    assert match, found[-1].text
    return match.group(1)


def set_user(runtime: Runtime, username: str = USERNAME, **fields: Any) -> None:
    with runtime.sessions() as session, session.atomic():
        user = session.scalars(select(User).where(User.username == username)).one()
        for name, value in fields.items():
            setattr(user, name, value)


def ostiary_bearer(runtime: Runtime, browser: TestClient) -> dict[str, str]:
    """Jeremy signs in through the pages to a client of the ``ostiary`` module (the world of
    ``make_world``): the Authorization header of his access token for ``/api/v1/me``."""
    from ostiary.access.modules import ModuleService
    from tests.api.test_authorization import grant
    from tests.protocols.oidc.conftest import make_client
    from tests.protocols.oidc.test_attacks import exchange

    with runtime.sessions() as session:
        ostiary = ModuleService(session, None).find("ostiary")  # type: ignore[arg-type]
        assert ostiary is not None
        module_id = ostiary.id
    make_client(runtime, "console", module_id=module_id)
    grant(runtime, USERNAME, "acme0", {"access": True})
    fields = start(browser, client_id="console")
    code = redirected_code(password(browser, fields))
    answer = exchange(browser, code, client_id="console")  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def page_csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def sign_in_at(browser: TestClient, path: str) -> str:
    """Open an account page without a session: its login comes back to it. The page's text."""
    first = browser.get(path)
    assert first.status_code == 303 and first.headers["location"].startswith("/login?flow=")
    fields = form_fields(browser.get(first.headers["location"]).text)
    back = browser.post("/login", data={**fields, "username": USERNAME, "password": PASSWORD})
    assert back.status_code == 303 and back.headers["location"] == path
    page = browser.get(path)
    assert page.status_code == 200
    return page.text
