"""Checking an uploaded logo: PNG, JPEG, WebP or SVG, within the size limit.

The declared content type must be what the bytes are. An SVG is a document that could carry
script, so it is refused when it has anything active or anything that loads from elsewhere
(script, event handler attributes, foreignObject, links other than to its own fragments,
DTDs and entities, style sheets that import). Ostiary also serves every logo so that a
browser opening it directly runs nothing (see ``ostiary.web.branding``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from ostiary.errors import OstiaryError, RuleViolation
from ostiary.text import Text

PNG, JPEG, WEBP, SVG = "image/png", "image/jpeg", "image/webp", "image/svg+xml"
TYPES = (PNG, JPEG, WEBP, SVG)
_SVG_NS = "{http://www.w3.org/2000/svg}"
_ACTIVE = frozenset(
    {"script", "foreignobject", "iframe", "embed", "object", "handler", "listener", "audio",
     "video", "image", "use", "animate", "set", "animatemotion", "animatetransform"}
)  # fmt: skip
_HREF = re.compile(r"(^|})href$")
_STYLE_LOADS = re.compile(r"@import|url\s*\((?!\s*['\"]?#)|expression\s*\(|javascript:", re.I)


class UnsupportedLogo(OstiaryError):
    kind = "unsupported-media-type"
    status = 415
    title = "Unsupported media type"


class LogoTooLarge(OstiaryError):
    kind = "payload-too-large"
    status = 413
    title = "Too large"


@dataclass(frozen=True)
class Logo:
    content: bytes
    content_type: str


def detect(content: bytes) -> str | None:
    """The image type the bytes are, by their signature (SVG: an XML document)."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return WEBP
    head = content[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<svg", b"<!--")):
        return SVG
    return None


def check(content: bytes, declared: str | None, max_bytes: int) -> Logo:
    """The logo, if it may be stored; the matching problem otherwise."""
    media_type = (declared or "").split(";")[0].strip().lower()
    if media_type not in TYPES:
        raise UnsupportedLogo(
            Text(
                "a logo must be one of {types}, not '{media_type}'",
                types=", ".join(TYPES),
                media_type=media_type or "nothing",
            ),
            field="logo",
        )
    if len(content) > max_bytes:
        raise LogoTooLarge(
            Text("a logo may have at most {max_bytes} bytes", max_bytes=max_bytes), field="logo"
        )
    if not content:
        raise RuleViolation("the logo is empty", field="logo")
    found = detect(content)
    if found != media_type:
        raise RuleViolation(
            Text("the content is not {media_type} but {found}", media_type=media_type, found=found)
            if found
            else Text("the content is not {media_type}", media_type=media_type),
            field="logo",
        )
    if media_type == SVG:
        problem = svg_problem(content)
        if problem is not None:
            raise RuleViolation(
                Text("the SVG is refused: {problem}", problem=problem), field="logo"
            )
    return Logo(content, media_type)


def svg_problem(content: bytes) -> str | None:
    """Why an SVG may not be a logo, or None when it is inert."""
    lowered = content.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        return "it has a DTD or entities"
    if b"<?xml-stylesheet" in lowered:
        return "it links a style sheet"
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as exc:
        return f"it is not well-formed XML ({exc})"
    if root.tag != f"{_SVG_NS}svg":
        return "its root element is not an SVG <svg>"
    for element in root.iter():
        name = element.tag.rpartition("}")[2].lower()
        if name in _ACTIVE:
            return f"it has a <{name}> element"
        if name == "style" and _STYLE_LOADS.search(element.text or ""):
            return "its style sheet loads or runs something"
        for attribute, value in element.attrib.items():
            local = attribute.rpartition("}")[2].lower()
            if local.startswith("on"):
                return f"it has an event handler attribute ({local})"
            if _HREF.search(attribute) and not value.strip().startswith("#"):
                return "it links to something outside itself"
            if _STYLE_LOADS.search(value):
                return f"its {local} attribute loads or runs something"
    return None
