"""Every text of the clients, webhooks, messages, branding and keys pages has its German."""

from __future__ import annotations

import re
from pathlib import Path

from ostiary.i18n import translations
from ostiary.web.console import branding, clients, keys, message_templates, webhooks

TEMPLATES = Path(__file__).parents[3] / "ostiary" / "web" / "templates" / "console"
PAGES = (
    "client_form.html",
    "clients.html",
    "client.html",
    "client_delete.html",
    "webhook_form.html",
    "webhooks.html",
    "webhook.html",
    "webhook_delete.html",
    "messages.html",
    "message.html",
    "message_preview.html",
    "branding.html",
    "keys_table.html",
    "keys.html",
    "keys_rotate.html",
)
# Words that German writes as English does.
SAME_IN_GERMAN = frozenset(
    {"Clients", "Webhooks", "Webhook", "Branding", "Logo", "Text", "Scopes", "HTML (optional)"}
    | {"Name", "Status"}
)


def test_german_translates_every_text_of_these_pages() -> None:
    german = translations("de")
    texts: set[str] = set()
    for name in PAGES:
        page = (TEMPLATES / name).read_text()
        texts |= set(re.findall(r'_\(\s*"([^"]+)"', page))
        texts |= set(re.findall(r"_\(\s*'([^']+)'", page))
    texts |= set(re.findall(r'"(The client is [^"]+)"', (TEMPLATES / "client.html").read_text()))
    texts |= {clients.NOT_A_NUMBER, *webhooks.NOTICES.values(), *message_templates.NOTICES.values()}
    texts |= {*branding.NOTICES.values(), *keys.MINUTES.values(), "Choose an algorithm."}
    texts |= {"next", "active", "retired", "unpublished", "pending", "delivered", "failed"}
    texts |= {"email", "sms", "public", "confidential", "enabled", "disabled"}
    texts |= {"Clients", "Webhooks", "Messages", "Branding", "Signing keys"}
    missing = sorted(t for t in texts if german.gettext(t) == t and t not in SAME_IN_GERMAN)
    assert texts and not missing
