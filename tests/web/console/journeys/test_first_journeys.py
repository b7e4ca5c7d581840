"""Journeys through the console and the account page in Chromium, one test per journey: a
contact person invites a colleague, who accepts from the e-mail (real SMTP) and signs in to the
console; a contact person edits the URL to another organization's user and is told "not
found"; a user changes their phone number on their account page and verifies it with the code
sent by SMS."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ostiary.runtime import Runtime
from tests.messages.servers import GatewayLog, Mailbox
from tests.web.console.journeys.chromium import (
    DESKTOP,
    PHONE,
    accessible,
    mailed_link,
    shot,
    sign_in,
    texted_code,
)
from tests.web.console.support import PASSWORD, user_id

COLLEAGUE = "pia.planner@city.example"


@pytest.mark.usefixtures("provider")
def test_a_contact_person_invites_a_colleague_who_accepts_and_signs_in(
    world: Runtime, smtp: tuple[int, Mailbox], chromium: Any
) -> None:
    base = world.settings.issuer
    carla = chromium.new_context(viewport=DESKTOP)
    page = carla.new_page()
    sign_in(page, base, "carla", "City Group")
    accessible(page)
    shot(page, "console-home")

    page.click("#nav-users")
    page.fill("#q", "mi")
    page.wait_for_selector("#users >> text=jeremy")
    accessible(page)
    shot(page, "console-users")
    page.click("text=jeremy")
    page.wait_for_selector("#rights")
    shot(page, "console-user")

    page.click("#nav-invite")
    page.fill("#emails", COLLEAGUE)
    page.get_by_label("Contact persons").check()
    page.fill("#message", "Welcome to the planning team!")
    accessible(page)
    shot(page, "console-invite")
    page.click("#send-invitations")
    page.wait_for_selector("#results >> text=Invitation sent")

    link = mailed_link(smtp[1])
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
    shot(phone, "console-users-phone")

    page.click("#nav-audit")
    page.fill("#action", "invitation.accepted")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_selector("#events >> text=invitation.accepted")
    accessible(page)
    shot(page, "console-audit")


@pytest.mark.usefixtures("provider")
def test_another_organizations_user_by_url_is_not_found(world: Runtime, chromium: Any) -> None:
    base = world.settings.issuer
    page = chromium.new_context(viewport=DESKTOP).new_page()
    sign_in(page, base, "carla", "City Group")
    answer = page.goto(f"{base}/console/users/{user_id(world, 'olga')}")
    assert answer is not None and answer.status == 404
    assert page.inner_text("#problem-title") == "Not found"
    assert "olga" not in page.content()
    shot(page, "console-not-found")
    page.click("#nav-contexts")
    page.wait_for_selector("#contexts >> text=City North")
    accessible(page)
    shot(page, "console-contexts")


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
    accessible(page)
    page.fill("#code", texted_code(gateway[1], "+41446681800"))
    page.locator("#code").press("Enter")
    page.wait_for_url(re.compile(r".*/account\?changed=phone"))
    assert page.inner_text("#phone-current") == "+41446681800"
    shot(page, "account-phone-changed")
