"""The console in Chromium (Playwright driving Debian's chromium), one test per journey: a
contact person invites a colleague, who accepts from the e-mail (real SMTP) and signs in to the
console; a contact person edits the URL to another organization's user and is told "not
found"; a user changes their phone number on their account page and verifies it with the code
sent by SMS. They check labels and a visible keyboard focus, and take the screenshots of
``docs/screenshots/``."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ostiary.runtime import Runtime
from tests.messages.servers import GatewayLog, Mailbox, free_port, sms_gateway, smtp_server
from tests.protocols.oidc.conftest import provider  # noqa: F401 (a fixture)
from tests.web.console.support import PASSWORD, make_world, user_id

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="Debian's chromium is not installed (/usr/bin/chromium)",
)
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
COLLEAGUE = "pia.planner@city.example"

# Every visible form control has a label (its own, or aria-label), as WCAG 2.1 asks.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""
# The element that has keyboard focus draws an outline.
FOCUS_OUTLINE = """() => { const s = getComputedStyle(document.activeElement);
  return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2; }"""


@pytest.fixture
def database(sqlite_database: Any) -> Any:
    # The journeys are about the pages; the rules are tested on both databases elsewhere.
    return sqlite_database


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def gateway() -> Iterator[tuple[str, GatewayLog]]:
    log = GatewayLog()
    with sms_gateway(log) as url:
        yield url, log


@pytest.fixture
def settings_overrides(
    smtp: tuple[int, Mailbox], gateway: tuple[str, GatewayLog]
) -> dict[str, object]:
    return {
        "issuer": f"http://127.0.0.1:{free_port()}",
        "smtp_url": f"smtp://127.0.0.1:{smtp[0]}",
        "sms_gateway_url": gateway[0],
        "message_poll_seconds": 0.2,
    }


@pytest.fixture
def world(runtime: Runtime, tmp_path: Path) -> Runtime:
    make_world(runtime, tmp_path)
    return runtime


@pytest.fixture
def chromium() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def _link(mailbox: Mailbox) -> str:
    deadline = time.monotonic() + 20
    while not mailbox.received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mailbox.received, "no invitation arrived by SMTP"
    body = mailbox.received[-1].message.get_body(("plain",))
    found = re.search(r"(http://\S+/invite\?token=[\w-]+)", body.get_content())  # type: ignore[union-attr]
    assert found
    return found.group(1)


def _sign_in(page: Any, base: str, username: str, context: str | None = None) -> None:
    page.goto(f"{base}/console")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if context is not None and "/login/context" in page.url:
        page.get_by_label(context).check()
        page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base}/console")


def _accessible(page: Any) -> None:
    assert page.evaluate(UNLABELLED) == []
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUS_OUTLINE), "the focused element shows no outline"


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.mark.usefixtures("provider")
def test_a_contact_person_invites_a_colleague_who_accepts_and_signs_in(
    world: Runtime, smtp: tuple[int, Mailbox], chromium: Any
) -> None:
    base = world.settings.issuer
    carla = chromium.new_context(viewport=DESKTOP)
    page = carla.new_page()
    _sign_in(page, base, "carla", "City Group")
    _accessible(page)
    _shot(page, "console-home")

    page.click("#nav-users")
    page.fill("#q", "mi")
    page.wait_for_selector("#users >> text=jeremy")
    _accessible(page)
    _shot(page, "console-users")
    page.click("text=jeremy")
    page.wait_for_selector("#rights")
    _shot(page, "console-user")

    page.click("#nav-invite")
    page.fill("#emails", COLLEAGUE)
    page.get_by_label("Contact persons").check()
    page.fill("#message", "Welcome to the planning team!")
    _accessible(page)
    _shot(page, "console-invite")
    page.click("#send-invitations")
    page.wait_for_selector("#results >> text=Invitation sent")

    link = _link(smtp[1])
    pia = chromium.new_context(viewport=PHONE)
    phone = pia.new_page()
    phone.goto(link)
    phone.fill("#first_name", "Pia")
    phone.fill("#last_name", "Planner")
    phone.fill("#password", PASSWORD)
    phone.fill("#confirmation", PASSWORD)
    phone.click("#register")
    phone.wait_for_url(re.compile(r".*/invite/welcome.*"))
    # Signed in by the acceptance: the console opens without asking again.
    phone.goto(f"{base}/console")
    phone.wait_for_url(f"{base}/console")
    assert "Pia" in phone.inner_text("h1")
    phone.click("#nav-users")
    phone.wait_for_selector("#users >> text=jeremy")
    _shot(phone, "console-users-phone")

    page.click("#nav-audit")
    page.fill("#action", "invitation.accepted")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_selector("#events >> text=invitation.accepted")
    _accessible(page)
    _shot(page, "console-audit")


@pytest.mark.usefixtures("provider")
def test_another_organizations_user_by_url_is_not_found(world: Runtime, chromium: Any) -> None:
    base = world.settings.issuer
    page = chromium.new_context(viewport=DESKTOP).new_page()
    _sign_in(page, base, "carla", "City Group")
    answer = page.goto(f"{base}/console/users/{user_id(world, 'olga')}")
    assert answer is not None and answer.status == 404
    assert page.inner_text("#problem-title") == "Not found"
    assert "olga" not in page.content()
    _shot(page, "console-not-found")
    page.click("#nav-contexts")
    page.wait_for_selector("#contexts >> text=City North")
    assert page.evaluate(UNLABELLED) == []
    _shot(page, "console-contexts")


def _texted_code(log: GatewayLog, number: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        texts = [r["body"]["text"] for r in log.requests if r["body"]["to"] == number]
        if texts:
            found = re.search(r"\b(\d{6})\b", texts[-1])
            assert found
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no SMS went to {number}")


@pytest.mark.usefixtures("provider")
def test_a_user_changes_their_phone_and_verifies_it(
    world: Runtime, gateway: tuple[str, GatewayLog], chromium: Any
) -> None:
    base = world.settings.issuer
    page = chromium.new_context(viewport=PHONE).new_page()
    page.goto(f"{base}/account")
    page.fill("#username", "jeremy")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/account")
    if page.locator("#confirm-password").count():
        page.fill("#confirm-password", PASSWORD)
        page.locator("#confirm-password").press("Enter")
        page.wait_for_selector("#new-phone")
    page.fill("#new-phone", "+41446681800")
    page.locator("#new-phone").press("Enter")
    page.wait_for_url(f"{base}/account/phone/verify")
    assert page.evaluate(UNLABELLED) == []
    page.fill("#code", _texted_code(gateway[1], "+41446681800"))
    page.locator("#code").press("Enter")
    page.wait_for_url(re.compile(r".*/account\?changed=phone"))
    assert page.inner_text("#phone-current") == "+41446681800"
    _shot(page, "account-phone-changed")
