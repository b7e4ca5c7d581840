"""The Jinja2 environment shared by every page, with the request's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from ostiary.branding.resolution import NO_BRAND
from ostiary.i18n import Translator, accept_language, negotiate


def page_language(request: Request) -> str:
    """What the route learned (``ui_locales``, the user's own language), then the browser's."""
    preferences: list[str] = list(getattr(request.state, "language_preferences", ()))
    preferences += accept_language(request.headers.get("accept-language"))
    runtime = getattr(request.app.state, "runtime", None)
    default = runtime.settings.default_language if runtime is not None else "en"
    return negotiate(preferences, default)


def said(request: Request, message: str) -> str:
    """A service's message (``ostiary.text.Text``, or a plain text) in the page's language."""
    return Translator(page_language(request)).text(message)


def _language_context(request: Request) -> dict[str, Any]:
    language = page_language(request)
    brand = getattr(request.state, "brand", NO_BRAND)
    return {
        "lang": language,
        "_": Translator(language),
        "brand": brand,
        "brand_text": lambda key: brand.text(key, language),
    }


templates = Jinja2Templates(
    directory=Path(__file__).parent / "templates", context_processors=[_language_context]
)
