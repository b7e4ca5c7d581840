"""A journey in Chromium through the integration pages of the console: back-office staff
register an application and see its secret once, subscribe a webhook receiver, preview a
message template while editing it, and rotate the signing keys after a confirmation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ostiary.runtime import Runtime
from tests.messages.servers import GatewayLog, Mailbox, free_port
from tests.web.console.journeys.chromium import DESKTOP, PHONE, accessible, shot, sign_in
from tests.web.console.staff import add_staff


@pytest.fixture
def settings_overrides(
    smtp: tuple[int, Mailbox], gateway: tuple[str, GatewayLog]
) -> dict[str, object]:
    return {
        "issuer": f"http://127.0.0.1:{free_port()}",
        "smtp_url": f"smtp://127.0.0.1:{smtp[0]}",
        "sms_gateway_url": gateway[0],
        "message_poll_seconds": 0.2,
        "webhooks_worker": False,
        "webhooks_allow_loopback": True,
    }


@pytest.mark.usefixtures("provider")
def test_staff_register_a_client_add_a_webhook_preview_a_message_and_rotate_keys(
    world: Runtime, tmp_path: Path, chromium: Any
) -> None:
    add_staff(world, tmp_path)
    base = world.settings.issuer
    page = chromium.new_context(viewport=DESKTOP).new_page()
    sign_in(page, base, "stella")

    page.click("#nav-clients")
    accessible(page)
    page.fill("#client_id", "crm-portal")
    page.fill("#name", "CRM portal")
    page.fill("#redirect_uris", "https://crm.example.com/callback")
    page.select_option("#module", "ostiary")
    page.click("#create-client")
    secret = page.inner_text("#client-secret")
    assert len(secret) > 30
    shot(page, "console-clients")
    accessible(page)
    page.reload()
    assert page.locator("#client-secret").count() == 0 and secret not in page.content()

    page.click("#nav-webhooks")
    page.fill("#url", "http://127.0.0.1:9/hooks/crm")
    page.get_by_label("user.created").check()
    page.fill("#description", "CRM")
    accessible(page)
    page.click("#create-webhook")
    assert page.inner_text("#webhook-secret").startswith("whsec_")
    page.click("#ping")
    page.wait_for_selector("#deliveries >> text=webhook.ping")
    shot(page, "console-webhooks")
    accessible(page)

    page.click("#nav-messages")
    accessible(page)
    page.click("#edit-invitation-en-email")
    page.fill("#subject", "{{ inviter }} invites you to {{ organization }}")
    page.wait_for_selector("#preview-subject >> text=invites you to Acme Ltd")
    shot(page, "console-messages")
    accessible(page)
    page.fill("#text", "Hello {{ nickname }}")
    page.wait_for_selector("#text-error >> text=nickname")
    page.fill("#text", "Hello {{ name }}, open {{ link }}")
    page.wait_for_selector("#preview-text >> text=Hello Jane Doe")
    page.click("#save-template")
    page.wait_for_selector("#notice")

    page.click("#nav-branding")
    page.fill("#display_name", "Ostiary Demo")
    page.fill("#primary_color", "#1a5fb4")
    page.click("#save-branding")
    page.wait_for_selector("#notice")
    accessible(page)

    page.click("#nav-keys")
    accessible(page)
    page.click("#rotate-keys")
    accessible(page)
    page.click("#confirm-rotation")
    page.wait_for_selector("#notice")
    assert page.locator("tr.key-next").count() == 2
    shot(page, "console-keys")

    # On a phone, nothing is wider than the screen (tables scroll inside their frame).
    page.set_viewport_size(PHONE)
    for path in ("clients/crm-portal", "webhooks", "messages/invitation/en/email", "keys"):
        page.goto(f"{base}/console/{path}")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], path
