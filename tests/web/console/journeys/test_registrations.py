"""A journey through registration in Chromium: someone registers their organization at
``/register`` and confirms the address with the link that arrives by e-mail (real SMTP); staff
sign in to the console, open the waiting registration and approve it, then give the new
organization a contract; the contact person signs in to the console of their organization."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from ostiary.runtime import Runtime
from tests.messages.servers import Mailbox
from tests.web.console.journeys.chromium import (
    DESKTOP,
    PHONE,
    accessible,
    mailed_link,
    shot,
    sign_in,
)
from tests.web.console.onboarding import (
    REGISTRATION,
    contact_persons_administer_from_anywhere,
    make_staff,
)
from tests.web.console.support import PASSWORD

KIM = "kim@koko.example"
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, object]) -> dict[str, object]:
    return {**settings_overrides, **REGISTRATION}


@pytest.mark.usefixtures("provider")
def test_staff_approve_a_registration(
    world: Runtime, smtp: tuple[int, Mailbox], chromium: Any, tmp_path: Path
) -> None:
    make_staff(world, tmp_path)
    contact_persons_administer_from_anywhere(world)
    base = world.settings.issuer

    # Kim registers KOKO Media on her phone and confirms the address from the e-mail.
    kim = chromium.new_context(viewport=PHONE).new_page()
    kim.goto(f"{base}/register")
    kim.fill("#organization", "KOKO Media")
    kim.fill("#number", "K-1")
    kim.fill("#first_name", "Kim")
    kim.fill("#last_name", "Koko")
    kim.fill("#email", KIM)
    kim.fill("#password", PASSWORD)
    kim.fill("#confirmation", PASSWORD)
    kim.click("#register")
    kim.wait_for_selector("#registration-awaiting")
    kim.goto(mailed_link(smtp[1], "/register/confirm"))
    kim.wait_for_selector("#registration-submitted")

    # Staff find it waiting, read what was registered, and approve it.
    staff = chromium.new_context(viewport=DESKTOP).new_page()
    sign_in(staff, base, "stella")
    staff.click("#nav-registrations")
    staff.wait_for_selector("#requests >> text=KOKO Media")
    accessible(staff)
    shot(staff, "console-registrations")
    staff.click("#requests >> text=KOKO Media")
    staff.wait_for_selector("#request-title")
    assert staff.inner_text("#request-state") == "waiting"
    assert KIM in staff.content() and "K-1" in staff.content()
    accessible(staff)
    shot(staff, "console-registration")
    staff.click("#approve")
    staff.wait_for_selector("#notice")
    assert staff.inner_text("#request-state") == "approved"
    assert not staff.locator("#approve").count()

    # The new organization's first contract.
    staff.click("#nav-contracts")
    staff.fill("#contract-external_id", "C-1")
    staff.fill("#contract-account", "K-1")
    staff.fill("#contract-product", "Energy")
    staff.select_option("#contract-status", "active")
    staff.fill("#contract-starts_on", "2026-01-01")
    staff.fill("#contract-ends_on", "2025-12-31")
    staff.click("#create-contract")
    staff.wait_for_selector("#ends_on-error")
    assert staff.input_value("#contract-product") == "Energy"
    staff.fill("#contract-ends_on", "")
    staff.click("#create-contract")
    staff.wait_for_selector("#contracts >> text=C-1")
    assert staff.inner_text("#account-title").startswith("KOKO Media")
    accessible(staff)
    shot(staff, "console-contracts")
    # On a phone the pages reflow: only the tables scroll sideways, in their own box.
    staff.set_viewport_size(PHONE)
    for path in ("/console/contracts?account=K-1", "/console/registrations?state=any"):
        staff.goto(f"{base}{path}")
        assert staff.evaluate(FITS), path

    # Kim, told by e-mail, signs in to the console of her organization.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(smtp[1].received) < 2:
        time.sleep(0.1)
    assert smtp[1].received[-1].message["Subject"] == "Welcome to KOKO Media"
    console = chromium.new_context(viewport=DESKTOP).new_page()
    sign_in(console, base, KIM)
    assert "Kim" in console.inner_text("h1")
    assert console.inner_text("#current-context") == "KOKO Media"
    console.click("#nav-users")
    console.wait_for_selector(f"#users >> text={KIM}")
    assert re.search(r"KOKO Media", console.content())
