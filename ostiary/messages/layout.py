"""The document around an e-mail's HTML part, and the signature of its text part, with the
branding the message carries (``ostiary.branding.resolution``)."""

from __future__ import annotations

from markupsafe import Markup, escape

from ostiary.branding.resolution import NO_BRAND, Brand

TEXT_COLOUR = "#1b1f24"


def html_document(body: str, language: str, brand: Brand = NO_BRAND, base_url: str = "") -> str:
    """``body`` in a whole HTML document: a header with the brand's logo and name in its
    primary colour, the footer text and support link. A body that is a document already is
    left as it is."""
    if "<html" in body.lower():
        return body
    header = footer = Markup("")
    if brand.name:
        background = brand.primary or "#ffffff"
        colour = brand.on_primary or TEXT_COLOUR
        logo = Markup("")
        if brand.logo_path:
            logo = Markup(
                '<img src="{}" alt="{}" height="40" style="vertical-align:middle;'
                'max-height:40px;margin-right:12px">'
            ).format(base_url.rstrip("/") + brand.logo_path, brand.name)
        header = Markup(
            '<div id="brand" style="background:{};color:{};padding:12px 16px">'
            '{}<strong style="font-size:1.2em;vertical-align:middle">{}</strong></div>\n'
        ).format(background, colour, logo, brand.name)
    footer_text = brand.text("footer", language)
    if footer_text or brand.support_url:
        link = Markup("")
        if brand.support_url:
            link = Markup('<br><a href="{}" style="color:{}">{}</a>').format(
                brand.support_url, brand.accent or "#1a5fb4", brand.support_url
            )
        footer = Markup(
            '<p id="brand-footer" style="font-size:.85em;color:#4b5563;padding:0 16px">{}{}</p>\n'
        ).format(footer_text or "", link)
    return (
        f'<!doctype html>\n<html lang="{escape(language)}">\n<head><meta charset="utf-8">'
        f'</head>\n<body style="font-family:system-ui,sans-serif;line-height:1.5;'
        f'color:{TEXT_COLOUR};margin:0">\n{header}<div style="padding:0 16px">\n{body}</div>\n'
        f"{footer}</body>\n</html>\n"
    )


def text_signature(text: str, brand: Brand, language: str) -> str:
    """The text part with the brand's name (and support link) below the usual delimiter."""
    if not brand.name:
        return text
    lines = [brand.name]
    footer_text = brand.text("footer", language)
    if footer_text:
        lines.append(footer_text)
    if brand.support_url:
        lines.append(brand.support_url.removeprefix("mailto:"))
    return text.rstrip("\n") + "\n\n-- \n" + "\n".join(lines) + "\n"
