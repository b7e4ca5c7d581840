"""Languages of the pages people see: which one a request gets, and its translations.

Catalogues are gettext ``.po`` files under ``ostiary/locales/<language>/LC_MESSAGES/``, read
with Babel once per process; the message ids are the English texts, so English needs no
catalogue and a text missing from a catalogue shows in English. A request's language is the
first of its preferences that Ostiary speaks (an exact tag, or its primary language: ``de-CH``
gets ``de``), else the instance default, else English.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from ostiary import text
from ostiary.text import Text

FALLBACK = "en"
LOCALES = Path(__file__).parent / "locales"
DOMAIN = "ostiary"
_TAG = re.compile(r"^[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*$")


@functools.cache
def available() -> frozenset[str]:
    """The languages with a catalogue, and English."""
    found = {path.parent.parent.name for path in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return frozenset(found | {FALLBACK})


def negotiate(preferences: Iterable[str | None], default: str = FALLBACK) -> str:
    """The first preference Ostiary speaks; then ``default``; then English."""
    speaks = available()
    for tag in [*preferences, default]:
        if not tag:
            continue
        tag = tag.strip().replace("_", "-").lower()
        primary = tag.split("-")[0]
        for candidate in (tag, primary):
            if candidate in speaks:
                return candidate
    return FALLBACK


def accept_language(header: str | None) -> list[str]:
    """The tags of an ``Accept-Language`` header (RFC 9110 §12.5.4), best first."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or not _TAG.match(tag):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


@functools.cache
def translations(language: str) -> NullTranslations:
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == FALLBACK or not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    # Compiled in memory rather than shipped as .mo files, so that the .po stays the only
    # source; fuzzy entries are drafts and stay untranslated, as with msgfmt.
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


class Translator:
    """``_("Sign in")`` in templates and code; ``{name}`` placeholders filled after lookup.

    A service's message (``ostiary.text.Text``) comes with its values: ``_(message)`` renders it.
    """

    def __init__(self, language: str) -> None:
        self.language = language
        self._translations = translations(language)

    def __call__(self, message: str, **values: object) -> str:
        if isinstance(message, Text) and not values:
            return self.text(message)
        text = self._translations.gettext(message)
        return text.format(**values) if values else text

    def text(self, message: str) -> str:
        """A service's message in this language: its template looked up, then its values
        filled in (each a message of its own too, where it is one)."""
        if not isinstance(message, Text) or not message.values:
            return self._translations.gettext(str(message))
        values = {
            name: self.text(text.of(value)) if isinstance(value, Text | BaseException) else value
            for name, value in message.values.items()
        }
        try:
            return self._translations.gettext(message.template).format(**values)
        except (KeyError, IndexError, ValueError):
            # A translation that names a value the message lacks shows the English message.
            return str(message)
