"""Logos and brandings the branding tests share."""

from __future__ import annotations

from typing import Any

# The smallest PNG: a 1x1 transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 32 + b"\xff\xd9"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    b'<defs><linearGradient id="g"><stop offset="0" stop-color="#1a5fb4"/></linearGradient></defs>'
    b'<rect width="10" height="10" fill="url(#g)"/></svg>'
)


def smartplan(**extra: Any) -> dict[str, Any]:
    return {
        "display_name": "SmartPlan",
        "primary_color": "#1A5FB4",
        "accent_color": "#0b5394",
        "support_url": "https://support.smartplan.example/help",
        "texts": {
            "en": {"login_title": "Sign in to SmartPlan", "welcome": "Plan smarter.",
                   "footer": "SmartPlan AG, Zurich"},
            "de": {"login_title": "Bei SmartPlan anmelden"},
        },
        **extra,
    }  # fmt: skip
