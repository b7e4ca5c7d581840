"""What the journeys in Chromium share: a sign-in through the real login page, the
accessibility checks every page passes (axe-core's WCAG 2.1 AA rules, labels, visible focus),
mail and SMS read from the real servers, and the screenshots of ``docs/screenshots/``."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.messages.servers import GatewayLog, Mailbox
from tests.web.console.support import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM_MISSING = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="Debian's chromium is not installed (/usr/bin/chromium)",
)
ROOT = Path(__file__).resolve().parents[4]
SCREENSHOTS = ROOT / "docs" / "screenshots"
AXE = ROOT / "tests" / "peers" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# Every visible form control has a label (its own, or aria-label), as WCAG 2.1 asks.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""
# The element that has keyboard focus draws an outline.
FOCUS_OUTLINE = """() => { const s = getComputedStyle(document.activeElement);
  return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2; }"""
# axe-core's WCAG 2.0/2.1 A and AA rules; the violations, by rule and element.
AXE_RUN = """async () => {
  const result = await axe.run(document, {runOnly: {type: 'tag',
    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
  return result.violations.map(v => ({rule: v.id, nodes: v.nodes.map(n => n.target.join(' '))}));
}"""


def mailed_link(mailbox: Mailbox, path: str = "/invite") -> str:
    """The link to ``path`` in the last message that arrived by SMTP."""
    deadline = time.monotonic() + 20
    while not mailbox.received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mailbox.received, "no message arrived by SMTP"
    body = mailbox.received[-1].message.get_body(("plain",))
    found = re.search(rf"(http://\S+{re.escape(path)}\?\S+)", body.get_content())  # type: ignore[union-attr]
    assert found, body
    return found.group(1)


def texted_code(log: GatewayLog, number: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        texts = [r["body"]["text"] for r in log.requests if r["body"]["to"] == number]
        if texts:
            found = re.search(r"\b(\d{6})\b", texts[-1])
            assert found
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no SMS went to {number}")


def sign_in(page: Any, base: str, username: str, context: str | None = None) -> None:
    """Through the console's real sign-in (login page, context chooser) to ``/console``."""
    page.goto(f"{base}/console")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if context is not None and "/login/context" in page.url:
        page.get_by_label(context).check()
        page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base}/console")


def accessible(page: Any) -> None:
    """The page passes axe-core's WCAG 2.1 A and AA rules, labels every field, and shows
    where the keyboard focus is."""
    assert page.evaluate(UNLABELLED) == []
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    violations = page.evaluate(AXE_RUN)
    assert violations == [], json.dumps(violations, indent=1)
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUS_OUTLINE), "the focused element shows no outline"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
