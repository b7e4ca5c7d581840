"""Journeys in Chromium through the account pages and the console's user import: a user
opens their account, changes the password, sees their two sessions and logs out everywhere
(the other browser is signed out too); a contact person imports users from a CSV file and
watches the progress to the final report."""

from __future__ import annotations

from typing import Any

import pytest

from ostiary.runtime import Runtime
from tests.web.console.journeys.chromium import DESKTOP, PHONE, accessible, shot, sign_in
from tests.web.console.support import PASSWORD

NEW_PASSWORD = "Another long passphrase of mine 9"
HEADER = "username,email,first_name,last_name,domain,status,context,groups"


def _log_in(page: Any, base: str, path: str, password: str) -> None:
    page.goto(f"{base}{path}")
    page.fill("#username", "jeremy")
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{path}")


@pytest.mark.usefixtures("provider")
def test_a_user_changes_the_password_and_logs_out_everywhere(world: Runtime, chromium: Any) -> None:
    base = world.settings.issuer
    page = chromium.new_context(viewport=DESKTOP).new_page()
    _log_in(page, base, "/account", PASSWORD)
    assert page.get_attribute("#account-nav-profile", "aria-current") == "page"
    shot(page, "account-profile")
    accessible(page)

    page.click("#account-nav-security")
    page.wait_for_url(f"{base}/account/security")
    shot(page, "account-security")
    accessible(page)

    page.click("#account-nav-password")
    page.wait_for_url(f"{base}/account/password")
    accessible(page)
    page.fill("#current_password", "not my password")
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#confirmation", NEW_PASSWORD)
    page.click("#change-password")
    page.wait_for_selector("#current_password-error")
    accessible(page)
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#confirmation", NEW_PASSWORD)
    page.click("#change-password")
    page.wait_for_selector("#password-notice")

    # A second browser, on a phone, signs in with the new password.
    phone = chromium.new_context(viewport=PHONE).new_page()
    _log_in(phone, base, "/account/sessions", NEW_PASSWORD)
    assert phone.locator("#sessions > li").count() == 2
    accessible(phone)

    page.click("#account-nav-sessions")
    page.wait_for_url(f"{base}/account/sessions")
    assert page.locator("#sessions > li").count() == 2
    assert page.locator("#this-session").count() == 1
    shot(page, "account-sessions")
    accessible(page)

    page.click("#account-nav-applications")
    page.wait_for_url(f"{base}/account/applications")
    accessible(page)
    page.click("#account-nav-organizations")
    page.wait_for_url(f"{base}/account/organizations")
    assert "City Group" in page.inner_text("#memberships")
    accessible(page)

    page.click("#account-nav-sessions")
    page.wait_for_url(f"{base}/account/sessions")
    page.click("#log-out-everywhere")
    page.wait_for_selector("text=You are signed out")
    # The other browser is signed out as well: its next page asks it to sign in.
    phone.goto(f"{base}/account/sessions")
    phone.wait_for_selector("#username")
    assert "/login" in phone.url


@pytest.mark.usefixtures("provider")
def test_a_contact_person_imports_users_and_watches_the_progress(
    world: Runtime, chromium: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(world.settings, "import_sync_rows", 0)  # it runs as a job
    base = world.settings.issuer
    page = chromium.new_context(viewport=DESKTOP).new_page()
    sign_in(page, base, "carla", "City Group")
    page.click("#nav-import")
    page.wait_for_url(f"{base}/console/users/import")
    accessible(page)

    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\nann,not-an-address,Ann,A,ENTERPRISE,active,city,\n")
    page.set_input_files("#file", str(bad))
    page.click("#start-import")
    page.wait_for_selector("#problems >> text=2")
    assert page.inner_text("#problems td.line") == "2"
    accessible(page)

    rows = [
        f"pl{i},pl{i}@city.example,Planner,Number {i},ENTERPRISE,active,city,Planners"
        for i in range(1500)
    ]
    good = tmp_path / "good.csv"
    good.write_text("\n".join([HEADER, *rows]) + "\n")
    page.set_input_files("#file", str(good))
    page.click("#start-import")
    page.wait_for_selector("#import-progress")
    page.wait_for_selector("#import-report[data-status='done']", timeout=120_000)
    assert page.inner_text("#import-created") == "1500"
    shot(page, "console-import")
    accessible(page)
