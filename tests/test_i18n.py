"""Choosing a page's language and the completeness of the shipped catalogues."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ostiary.i18n import Translator, accept_language, available, negotiate, translations

TEMPLATES = Path(__file__).parents[1] / "ostiary" / "web" / "templates"
SIGN_IN_PAGES = (
    "base.html",
    "login.html",
    "context.html",
    "logged_out.html",
    "oauth_error.html",
    "suspended.html",
    "second_factor.html",
    "passkey_login.html",
    "account_security.html",
    "forgot.html",
    "reset.html",
    "invitation.html",
    "account_profile.html",
    "account_verify.html",
    "account_verify_link.html",
    "registration.html",
)
# Words that German writes as English does.
SAME_IN_GERMAN = frozenset({"Code", "Name", "Passkey", "Passkeys", "SMS"})


def test_accept_language_orders_by_quality_then_position() -> None:
    header = "fr;q=0.4, de-CH, en;q=0.8, *;q=0.1, xx_bad!, it;q=0"
    assert accept_language(header) == ["de-CH", "en", "fr"]
    assert accept_language(None) == [] and accept_language("") == []
    assert accept_language("de;q=abc") == []  # an unreadable weight counts as 0


@pytest.mark.parametrize(
    ("preferences", "default", "chosen"),
    [
        (["de-CH", "en"], "en", "de"),
        (["fr", "DE_at"], "en", "de"),
        (["fr", "it"], "de", "de"),
        (["fr"], "fr", "en"),
        ([None, ""], "en", "en"),
    ],
)
def test_negotiate(preferences: list[str | None], default: str, chosen: str) -> None:
    assert negotiate(preferences, default) == chosen


def test_german_translates_every_text_of_the_sign_in_pages() -> None:
    assert {"en", "de"} <= available()
    german = translations("de")
    texts = set()
    for name in SIGN_IN_PAGES:
        texts |= set(re.findall(r'_\("([^"]+)"[,)]', (TEMPLATES / name).read_text()))
    from ostiary.authn.login import LOGIN_FAILED
    from ostiary.web.login import EXPIRED

    texts |= {LOGIN_FAILED, EXPIRED.description, "Choose one of these organizations."}
    from ostiary.web.second_factor import MESSAGES, PASSKEY_FAILED

    texts |= set(MESSAGES.values()) | {PASSKEY_FAILED}
    from ostiary.web.reset import RULE_TEXTS, WAIT_MINUTES, WAIT_SECONDS

    texts |= set(RULE_TEXTS.values()) | {WAIT_SECONDS, WAIT_MINUTES}
    from ostiary.web.invitations import REASONS

    texts |= set(REASONS.values())
    from ostiary.web import profile

    texts |= {*profile.REFUSALS.values(), *profile.INVALID.values(), *profile.VERDICTS.values()}
    texts |= {*profile.CHANGED.values(), profile.THROTTLED, profile.LINK_FAILED}
    texts |= {profile.CONFIRM_FAILED}
    missing = sorted(t for t in texts if german.gettext(t) == t and t not in SAME_IN_GERMAN)
    assert texts and not missing


def test_a_text_without_translation_shows_in_english() -> None:
    assert Translator("de")("Sign in") == "Anmelden"
    assert Translator("de")("No such text {n}", n=3) == "No such text 3"
    assert Translator("en")("Sign in") == "Sign in"


def test_each_text_is_translated_once() -> None:
    """Catalogues are appended to from many places; a text given twice would have its later
    translation win silently."""
    from babel.messages.pofile import read_po

    from ostiary.i18n import LOCALES

    for path in LOCALES.glob("*/LC_MESSAGES/*.po"):
        with path.open("rb") as handle:
            catalogue = read_po(handle)
        ids = [m.id for m in catalogue if m.id]
        raw = re.findall(r'^msgid "((?:[^"\\]|\\.)+)"$', path.read_text(encoding="utf-8"), re.M)
        twice = sorted({i for i in raw if raw.count(i) > 1})
        assert twice == [], f"{path}: given twice: {twice}"
        assert len(ids) >= len(raw) > 0
