"""The account's security page: reached through a login that comes back to it, changes only
with a recent proof, an authenticator app set up by QR code."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from ostiary.authn.models import BrowserSession
from ostiary.db.types import utcnow
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.authn.support import page_csrf, sign_in_at
from tests.conftest import LOCAL_CLIENT
from tests.protocols.oidc.conftest import PASSWORD, make_world


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver", "message_worker": False}


@pytest.fixture
def browser(runtime: Runtime) -> Any:
    make_world(runtime)
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def _sign_in(browser: TestClient) -> str:
    return sign_in_at(browser, "/account/security")


def test_set_up_an_authenticator_app_from_the_page(browser: TestClient, runtime: Runtime) -> None:
    page = _sign_in(browser)
    assert "No authenticator app is set up." in page
    csrf = page_csrf(page)
    # A forged form is refused.
    forged = browser.post("/account/security/authenticator-app", data={"csrf": "x"})
    assert forged.status_code == 403 and "This form has expired" in forged.text
    enrolment = browser.post("/account/security/authenticator-app", data={"csrf": csrf})
    assert enrolment.status_code == 200 and "<svg" in enrolment.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', enrolment.text).group(1)  # type: ignore[union-attr]
    wrong = browser.post(
        "/account/security/authenticator-app/confirm", data={"csrf": csrf, "code": "12345"}
    )
    assert wrong.status_code == 422 and "<svg" in wrong.text
    done = browser.post(
        "/account/security/authenticator-app/confirm",
        data={"csrf": csrf, "code": pyotp.TOTP(secret).now()},
    )
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-z-]+)</code></li>", done.text)
    assert len(codes) == 10
    page = browser.get("/account/security").text
    assert "An authenticator app is set up." in page and "Unused recovery codes: 10" in page
    # Later than the step-up window, changes need the password again.
    with runtime.sessions() as session, session.atomic():
        session.execute(update(BrowserSession).values(auth_time=utcnow() - timedelta(hours=1)))
    stale = browser.get("/account/security").text
    assert "Confirm it&#39;s you" in stale or "Confirm it's you" in stale
    assert 'action="/account/security/recovery-codes"' not in stale
    refused = browser.post("/account/security/recovery-codes", data={"csrf": csrf})
    assert refused.status_code == 303
    bad = browser.post(
        "/account/security/confirm", data={"csrf": csrf, "method": "password", "secret": "nope"}
    )
    assert bad.status_code == 401
    ok = browser.post(
        "/account/security/confirm", data={"csrf": csrf, "method": "password", "secret": PASSWORD}
    )
    assert ok.status_code == 303
    renewed = browser.post("/account/security/recovery-codes", data={"csrf": csrf})
    assert len(re.findall(r"<li><code>", renewed.text)) == 10
