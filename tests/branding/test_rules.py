"""The rules of a branding's values: colour contrast, support links, logos and SVG attacks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ostiary.branding.colours import contrast, parse_hex, text_on
from ostiary.branding.logos import LogoTooLarge, UnsupportedLogo, check, svg_problem
from ostiary.branding.schemas import BrandingIn
from ostiary.errors import RuleViolation
from tests.branding.samples import JPEG, PNG, SVG, WEBP


@given(st.integers(0, 0xFFFFFF))
def test_the_text_on_any_primary_colour_reaches_aa(value: int) -> None:
    colour = f"#{value:06x}"
    assert contrast(colour, text_on(colour)) >= 4.5


def test_colours_are_normalised_and_known_contrasts_hold() -> None:
    assert parse_hex("#ABC") == "#aabbcc"
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert text_on("#ffff00") == "#000000" and text_on("#1a5fb4") == "#ffffff"
    with pytest.raises(ValueError):
        parse_hex("blue")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("primary_color", "red"),
        ("primary_color", "#12345"),
        ("accent_color", "#ffff00"),  # 1.07:1 on the white page
        ("accent_color", "#999999"),  # 2.85:1
        ("support_url", "http://support.example"),
        ("support_url", "javascript:alert(1)"),
        ("support_url", "mailto:nobody"),
        ("display_name", "Smart\nPlan"),
        ("display_name", "  "),
    ],
)
def test_bad_values_are_refused_by_field(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BrandingIn.model_validate({"display_name": "SmartPlan", field: value})
    assert caught.value.errors()[0]["loc"][0] == field


def test_good_values_pass() -> None:
    branding = BrandingIn.model_validate(
        {"display_name": " SmartPlan ", "accent_color": "#767676", "support_url": "mailto:help@smartplan.example",
         "texts": {"DE_ch": {"welcome": "Grüezi"}}}
    )  # fmt: skip
    assert branding.display_name == "SmartPlan" and branding.accent_color == "#767676"
    assert list(branding.texts) == ["de-ch"]


@pytest.mark.parametrize(
    ("content", "media_type"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp"), (SVG, "image/svg+xml")],
)
def test_the_four_image_types_are_taken(content: bytes, media_type: str) -> None:
    assert check(content, media_type, 10_000).content_type == media_type


def test_a_wrong_declared_type_a_foreign_type_or_too_many_bytes_are_refused() -> None:
    with pytest.raises(UnsupportedLogo):
        check(PNG, "image/gif", 10_000)
    with pytest.raises(UnsupportedLogo):
        check(b"<html><script>alert(1)</script></html>", "text/html", 10_000)
    with pytest.raises(RuleViolation, match="not image/png"):
        check(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png", 10_000)
    with pytest.raises(RuleViolation):
        check(b"GIF89a....", "image/png", 10_000)
    with pytest.raises(LogoTooLarge):
        check(PNG + b"\x00" * 100, "image/png", 100)


SVG_NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        "<SCRIPT>alert(1)</SCRIPT>",
        '<rect onload="alert(1)"/>',
        '<rect ONCLICK="alert(1)"/>',
        '<a href="javascript:alert(1)"><rect/></a>',
        '<a xlink:href="javascript:alert(1)"><rect/></a>',
        '<image href="https://tracker.example/p.png"/>',
        '<use href="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="/>',
        '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>',
        '<set attributeName="href" to="javascript:alert(1)"/>',
        "<style>@import url(https://evil.example/x.css);</style>",
        '<rect style="fill:url(https://evil.example/x)"/>',
        '<iframe src="https://evil.example"/>',
    ],
)
def test_active_svg_is_refused(body: str) -> None:
    svg = f"<svg {SVG_NS}>{body}</svg>".encode()
    assert svg_problem(svg) is not None
    with pytest.raises(RuleViolation):
        check(svg, "image/svg+xml", 10_000)


def test_svg_with_entities_or_not_svg_at_all_is_refused() -> None:
    laughs = b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><svg xmlns="http://www.w3.org/2000/svg">&b;</svg>'
    assert "DTD" in (svg_problem(laughs) or "")
    assert svg_problem(b"<?xml version='1.0'?><html><script/></html>") is not None
    assert svg_problem(b"<svg xmlns='http://www.w3.org/2000/svg'><rect") is not None
    assert svg_problem(SVG) is None
