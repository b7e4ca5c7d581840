"""``/account/sessions``: a user's live sessions, ending one (its cookie no longer signs in),
and logging out everywhere (every session and the tokens standing on them)."""

from __future__ import annotations

import re

from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.authn.models import BrowserSession
from ostiary.runtime import Runtime
from tests.protocols.oidc.test_client_tokens import introspect, register
from tests.web import account_support
from tests.web.account_support import app_tokens, new_browser, open_signed_in, refreshed

# The fixtures of the account pages.
settings_overrides = account_support.settings_overrides
world = account_support.world
browser = account_support.browser


def _live(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        rows = session.scalars(select(BrowserSession).where(BrowserSession.ended_at.is_(None)))
        return len(rows.all())


def test_the_list_marks_this_session_and_ends_another(browser: TestClient, world: Runtime) -> None:
    with new_browser(world) as other:
        open_signed_in(other, "/account")
        page, csrf = open_signed_in(browser, "/account/sessions")
        listed = re.findall(r'<li id="session-([0-9a-f-]{36})"', page)
        assert len(listed) == 2 and page.count('id="this-session"') == 1
        assert "testclient" in page and "127.0.0.1" in page  # the browser and its address
        this = re.search(r'<li id="session-([0-9a-f-]{36})" class="current"', page).group(1)  # type: ignore[union-attr]
        (theirs,) = [s for s in listed if s != this]
        ended = browser.post(f"/account/sessions/{theirs}/end", data={"csrf": csrf})
        assert ended.status_code == 303 and ended.headers["location"].endswith("?done=ended")
        # The ended session's cookie no longer signs in; this one still does.
        assert other.get("/account").status_code == 303
        after = browser.get(ended.headers["location"]).text
        assert theirs not in after and this in after and "The session has ended." in after
        again = browser.post(f"/account/sessions/{theirs}/end", data={"csrf": csrf})
        assert again.status_code == 404


def test_another_users_session_cannot_be_ended(browser: TestClient, world: Runtime) -> None:
    with new_browser(world) as carla:
        page = open_signed_in(carla, "/account/sessions", "carla")[0]
        hers = re.search(r'<li id="session-([0-9a-f-]{36})"', page).group(1)  # type: ignore[union-attr]
        _, csrf = open_signed_in(browser, "/account/sessions")
        refused = browser.post(f"/account/sessions/{hers}/end", data={"csrf": csrf})
        assert refused.status_code == 404
        assert carla.get("/account").status_code == 200


def test_log_out_everywhere(browser: TestClient, world: Runtime) -> None:
    with new_browser(world) as other:
        open_signed_in(other, "/account")
        _, csrf = open_signed_in(browser, "/account/sessions")
        assert _live(world) == 2
        forged = browser.post("/account/sessions/everywhere", data={"csrf": "forged"})
        assert forged.status_code == 403 and _live(world) == 2
        done = browser.post("/account/sessions/everywhere", data={"csrf": csrf})
        assert done.status_code == 200 and "You are signed out" in done.text
        assert _live(world) == 0
        assert other.get("/account").status_code == 303
        assert browser.get("/account/sessions").status_code == 303


def test_log_out_everywhere_stops_the_tokens_standing_on_the_sessions(
    browser: TestClient, client: TestClient, world: Runtime
) -> None:
    _, csrf = open_signed_in(browser, "/account/sessions")
    tokens = app_tokens(browser, world)
    auth = ("resource-server", register(client, "resource-server"))
    assert introspect(client, tokens["access_token"], auth)["active"] is True
    assert browser.post("/account/sessions/everywhere", data={"csrf": csrf}).status_code == 200
    assert introspect(client, tokens["access_token"], auth) == {"active": False}
    assert refreshed(browser, tokens).json()["error"] == "invalid_grant"
