"""Colours of a branding: hex notation, and text contrast after WCAG 2.2 (1.4.3, level AA).

The primary colour fills buttons and the header bar; the text on it is black or white,
whichever contrasts more, so any primary colour is readable (the lesser of the two is never
below 4.58:1). The accent colour colours links on the white page, so it must reach 4.5:1
against white itself.
"""

from __future__ import annotations

import re

from ostiary.text import Text

AA_CONTRAST = 4.5
WHITE = "#ffffff"
BLACK = "#000000"
_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def parse_hex(value: str) -> str:
    """``#rgb`` or ``#rrggbb`` as ``#rrggbb`` in lower case; ValueError otherwise."""
    match = _HEX.fullmatch(value.strip())
    if match is None:
        raise ValueError("must be a hex colour such as #1a5fb4")
    digits = match.group(1).lower()
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return "#" + digits


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """Relative luminance of ``#rrggbb``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_on(background: str) -> str:
    """Black or white, whichever is more readable on ``background``."""
    return BLACK if contrast(background, BLACK) >= contrast(background, WHITE) else WHITE


def readable_on_white(colour: str) -> str:
    """``colour`` if text in it on the white page reaches AA; ValueError otherwise."""
    ratio = contrast(colour, WHITE)
    if ratio < AA_CONTRAST:
        raise ValueError(
            Text(
                "contrast with the white page is {ratio:.2f}:1, below the {aa_contrast}:1 that WCAG AA asks for text; choose a darker colour",
                ratio=ratio,
                aa_contrast=AA_CONTRAST,
            )
        )
    return colour
