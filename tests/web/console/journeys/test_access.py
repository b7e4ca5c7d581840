"""A journey in Chromium through the access pages: back-office staff read the module catalogue,
create an ACL template and tick its rights, make a group of an organization from it, add a
member, and see the member's effective rights change on the user's page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ostiary.runtime import Runtime
from tests.web.console.journeys.chromium import DESKTOP, PHONE, accessible, shot, sign_in
from tests.web.console.staff import add_staff
from tests.web.console.support import user_id

# What sticks out beyond a phone's width, to say so when something does.
WIDER = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth)
  .slice(0, 8).map(e => `${e.tagName}#${e.id}.${e.className}`)"""


def _still(page: Any) -> None:
    """The top of the page, without the keyboard focus of the accessibility check."""
    page.evaluate(
        "() => { document.activeElement && document.activeElement.blur(); scrollTo(0, 0); }"
    )


def _right(page: Any, key: str) -> str:
    """The value of a right in the effective-rights table of a user's page."""
    row = page.locator("#rights tbody tr", has=page.locator(f"td:text-is('{key}')"))
    return str(row.locator("td").nth(1).inner_text()).strip()


@pytest.mark.usefixtures("provider")
def test_staff_make_a_group_from_a_new_template_and_the_members_rights_change(
    world: Runtime, chromium: Any, tmp_path: Path
) -> None:
    add_staff(world, tmp_path)
    base = world.settings.issuer
    page = chromium.new_context(viewport=DESKTOP).new_page()
    sign_in(page, base, "stella")

    page.click("#nav-modules")
    page.wait_for_selector("#modules >> text=ostiary")
    accessible(page)
    _still(page)
    shot(page, "console-modules")
    page.click("#module-ostiary")
    page.wait_for_selector("#acls >> text=API IP Allow")
    accessible(page)
    page.click("#acls >> text=API IP Allow")
    page.wait_for_selector("#acl-title >> text=API IP Allow")
    assert "CIDR" in page.inner_text("main")
    accessible(page)

    jeremy = user_id(world, "jeremy")
    page.goto(f"{base}/console/users/{jeremy}")
    assert "City Group" in page.inner_text("#rights-heading")
    assert _right(page, "audit.read") == "False"

    page.click("#nav-templates")
    page.fill("#new-key", "auditor")
    page.fill("#new-name", "Auditor")
    page.get_by_label("account", exact=True).check()
    page.click("#create-template")
    page.wait_for_selector("#template-title >> text=Auditor")
    for key in ("access", "audit.read", "users.read"):
        page.get_by_label(key, exact=True).check()
    page.get_by_label("API IP Allow").fill("10.0.0.0/8 nonsense")
    page.click("#save-template")
    page.wait_for_selector(".error >> text=not an IPv4 or IPv6 CIDR range")
    accessible(page)
    page.get_by_label("API IP Allow").fill("")
    page.click("#save-template")
    page.wait_for_selector("#notice")
    page.click("#nav-templates")
    page.wait_for_selector("#templates >> text=auditor")
    accessible(page)
    _still(page)
    shot(page, "console-templates")

    page.click("#nav-contexts")
    page.click("#groups-city")
    page.wait_for_selector("#groups >> text=Planners")
    page.fill("#new-name", "Auditors")
    page.select_option("#new-template", "auditor")
    accessible(page)
    page.click("#create-group")
    page.wait_for_selector("#group-title >> text=Auditors")
    page.fill("#member-username", "jeremy")
    page.click("#add-member")
    page.wait_for_selector("#members >> text=jeremy")
    accessible(page)
    _still(page)
    shot(page, "console-groups")
    group_page = page.url

    page.click("#members >> text=jeremy")
    page.wait_for_selector("#rights")
    assert _right(page, "audit.read") == "True"
    assert "Auditors" in page.inner_text("#rights")

    page.goto(f"{base}/console/contexts")
    page.click("#policy-city-north")
    page.wait_for_selector("#policy-title")
    page.select_option("#policy-template", "account-user")
    page.click("#apply-policy-template")
    page.wait_for_selector("#clear-policy")
    accessible(page)
    page.click("#clear-policy")
    page.wait_for_selector("#policy-state >> text=No policy is set")

    # The same pages on a phone: nothing is cut off, everything is still reachable.
    phone = chromium.new_context(viewport=PHONE).new_page()
    sign_in(phone, base, "stella")
    for path in (group_page, f"{base}/console/templates/auditor", f"{base}/console/modules"):
        phone.goto(path)
        accessible(phone)
        width = phone.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, phone.evaluate(WIDER))
