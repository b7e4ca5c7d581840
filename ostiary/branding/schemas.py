from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from ostiary.branding.colours import parse_hex, readable_on_white, text_on
from ostiary.branding.models import Branding
from ostiary.text import Text

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MAILTO = re.compile(r"^mailto:[^\s@<>\"]+@[^\s@<>\"]+$", re.I)


def _plain(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value or None


def _support_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if _MAILTO.match(value):
        return value
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("must be an https:// URL or a mailto: address")
    return value


def _primary(value: str | None) -> str | None:
    return None if value is None else parse_hex(value)


def _accent(value: str | None) -> str | None:
    return None if value is None else readable_on_white(parse_hex(value))


PlainText = Annotated[str | None, AfterValidator(_plain)]


class BrandTexts(BaseModel):
    """Texts of the sign-in pages in one language; plain text, shown escaped."""

    model_config = ConfigDict(extra="forbid")

    login_title: PlainText = Field(None, max_length=120, description="Heading of the login page")
    welcome: PlainText = Field(None, max_length=1000, description="Shown below the heading")
    footer: PlainText = Field(None, max_length=500, description="At the foot of every page")


class BrandingIn(BaseModel):
    """A whole branding; PUT replaces every field but the logo (``.../branding/logo``)."""

    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=200)
    primary_color: Annotated[str | None, AfterValidator(_primary)] = Field(
        None,
        description="Buttons and the header bar, #rrggbb; the text on it is black or white, "
        "whichever contrasts more",
    )
    accent_color: Annotated[str | None, AfterValidator(_accent)] = Field(
        None, description="Links, #rrggbb; refused below 4.5:1 contrast with the white page"
    )
    support_url: Annotated[str | None, AfterValidator(_support_url)] = Field(
        None, max_length=500, description="https:// URL or mailto: address"
    )
    texts: dict[str, BrandTexts] = Field(
        default_factory=dict, description="By language tag (en, de, ...); English is the fallback"
    )

    @field_validator("display_name")
    @classmethod
    def _name(cls, value: str) -> str:
        # The sender's display name of messages, too: one line.
        cleaned = _plain(value.replace("\n", "\x00").replace("\t", "\x00"))
        if not cleaned:
            raise ValueError("must not be empty")
        return cleaned

    @field_validator("texts")
    @classmethod
    def _languages(cls, value: dict[str, BrandTexts]) -> dict[str, BrandTexts]:
        cleaned: dict[str, BrandTexts] = {}
        for tag, texts in value.items():
            key = tag.strip().lower().replace("_", "-")
            if not _LANGUAGE.match(key):
                raise ValueError(Text("'{tag}' is not a language tag", tag=tag))
            cleaned[key] = texts
        return cleaned


class BrandingOut(BaseModel):
    id: uuid.UUID
    context_id: uuid.UUID | None
    client_id: str | None
    display_name: str
    primary_color: str | None
    text_on_primary: str | None = Field(description="Black or white, chosen for contrast")
    accent_color: str | None
    support_url: str | None
    texts: dict[str, BrandTexts]
    logo_url: str | None = Field(description="Where Ostiary serves the logo")
    logo_type: str | None
    updated_at: datetime

    @classmethod
    def of(cls, row: Branding, client_id: str | None, logo_url: str | None) -> BrandingOut:
        return cls(
            id=row.id,
            context_id=row.context_id,
            client_id=client_id,
            display_name=row.display_name,
            primary_color=row.primary_color,
            text_on_primary=text_on(row.primary_color) if row.primary_color else None,
            accent_color=row.accent_color,
            support_url=row.support_url,
            texts={k: BrandTexts.model_validate(v) for k, v in row.texts.items()},
            logo_url=logo_url,
            logo_type=row.logo_type,
            updated_at=row.updated_at,
        )
