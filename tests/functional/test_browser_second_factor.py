"""In Chromium (Playwright driving Debian's chromium): a login with password and a code mailed
over real SMTP, then a passkey enrolled on the account page with Chromium's virtual
authenticator and used, as the second factor and for passwordless login."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from ostiary.authn.factors.models import Passkey
from ostiary.authn.models import BrowserSession
from ostiary.runtime import Runtime
from tests.messages.servers import Mailbox, free_port, smtp_server
from tests.protocols.oidc.conftest import (  # noqa: F401 (provider is a fixture)
    PASSWORD,
    make_client,
    make_world,
    provider,
)
from tests.protocols.oidc.test_attacks import authorize_params

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="Debian's chromium is not installed (/usr/bin/chromium)",
)


@pytest.fixture
def database(sqlite_database: Any) -> Any:
    # The browser journey is about the pages; the rules are tested on both databases elsewhere.
    return sqlite_database


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mailbox(smtp: tuple[int, Mailbox]) -> Mailbox:
    return smtp[1]


@pytest.fixture
def settings_overrides(smtp: tuple[int, Mailbox]) -> dict[str, object]:
    # WebAuthn needs a domain as relying party id: localhost, not 127.0.0.1.
    return {
        "issuer": f"http://localhost:{free_port()}",
        "two_factor": "email",
        "smtp_url": f"smtp://127.0.0.1:{smtp[0]}",
        "message_poll_seconds": 0.2,
    }


def _code_from(mailbox: Mailbox, count: int) -> str:
    deadline = time.monotonic() + 20
    while len(mailbox.received) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(mailbox.received) >= count, "no code arrived by SMTP"
    body = mailbox.received[count - 1].message.get_body(("plain",))
    match = re.search(r"\b(\d{6})\b", body.get_content())  # type: ignore[union-attr]
    assert match
    return match.group(1)


@pytest.fixture
def app_callback() -> Iterator[str]:
    """The application's redirect URI: a page that says the browser is back."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = b"back at the app"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback"
    server.shutdown()
    server.server_close()


@pytest.mark.usefixtures("provider")
def test_password_and_mailed_code_then_a_passkey(
    runtime: Runtime, mailbox: Mailbox, app_callback: str
) -> None:
    APP = app_callback  # noqa: N806
    make_world(runtime)
    make_client(runtime, "spa", redirect_uris=[APP])
    base = runtime.settings.issuer
    authorize = f"{base}/oauth2/authorize?{urlencode(authorize_params(redirect_uri=APP))}"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context()
            page = context.new_page()

            # 1. Password, then the code from the e-mail.
            page.goto(authorize)
            page.fill("#username", "jeremy")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/login/second-factor\?flow=.*"))
            assert "j•••••@city.example" in page.inner_text("#code-sent")
            page.fill("#code", _code_from(mailbox, 1))
            page.click("form[action='/login/second-factor'] button[type=submit]")
            page.wait_for_url(re.compile(re.escape(APP) + r"\?code=.*"))

            # 2. A passkey, made by Chromium's virtual authenticator on the account page.
            cdp = context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            authenticator = cdp.send(
                "WebAuthn.addVirtualAuthenticator",
                {
                    "options": {
                        "protocol": "ctap2",
                        "transport": "internal",
                        "hasResidentKey": True,
                        "hasUserVerification": True,
                        "isUserVerified": True,
                    }
                },
            )
            page.goto(f"{base}/account/security")
            page.fill("#passkey-name", "Virtual key")
            page.click("#add-passkey")
            page.wait_for_selector("#recovery-codes")
            page.goto(f"{base}/account/security")
            assert "Virtual key" in page.inner_text("#passkey-list")
            credentials = cdp.send(
                "WebAuthn.getCredentials", {"authenticatorId": authenticator["authenticatorId"]}
            )["credentials"]
            assert len(credentials) == 1 and credentials[0]["isResidentCredential"]

            # 3. The passkey as second factor: no code is mailed while the user has one.
            context.clear_cookies()
            page.goto(authorize)
            page.fill("#username", "jeremy")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/login/second-factor\?flow=.*"))
            page.click("#use-passkey")
            page.wait_for_url(re.compile(re.escape(APP) + r"\?code=.*"))
            assert len(mailbox.received) == 1

            # 4. Passwordless: the passkey alone, with user verification.
            context.clear_cookies()
            page.goto(
                f"{base}/oauth2/authorize?{urlencode(authorize_params(prompt='login', redirect_uri=APP))}"
            )
            page.click("#passkey-login")
            page.click("#use-passkey")
            page.wait_for_url(re.compile(re.escape(APP) + r"\?code=.*"))
        finally:
            browser.close()
    with runtime.sessions() as session:
        amrs = [
            s.amr
            for s in session.scalars(select(BrowserSession).order_by(BrowserSession.created_at))
        ]
        passkey = session.scalars(select(Passkey)).one()
    assert amrs == [["pwd", "otp", "mfa"], ["pwd", "hwk", "mfa"], ["hwk", "user", "mfa"]]
    assert passkey.sign_count >= 2 or passkey.last_used_at is not None
