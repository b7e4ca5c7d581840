"""What a client (an application that signs users in or calls APIs) is registered with."""

from __future__ import annotations

import enum
import uuid
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$"
# scope-token of RFC 6749, section 3.3
SCOPE_PATTERN = r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$"


class GrantType(enum.StrEnum):
    """The grants Ostiary offers; implicit and password are left out as RFC 9700 asks."""

    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"
    CLIENT_CREDENTIALS = "client_credentials"


def check_redirect_uri(value: str) -> str:
    """An absolute URI without fragment (RFC 6749, 3.1.2); kept as written for exact matching."""
    parts = urlsplit(value)
    if not parts.scheme:
        raise ValueError("must be an absolute URI")
    if parts.scheme in {"http", "https"} and not parts.hostname:
        raise ValueError("must name a host")
    if parts.fragment or value.endswith("#"):
        raise ValueError("must not contain a fragment")
    return value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


RedirectUri = Annotated[str, AfterValidator(check_redirect_uri)]
Scope = Annotated[str, Field(pattern=SCOPE_PATTERN)]
DEFAULT_GRANT_TYPES = (GrantType.AUTHORIZATION_CODE,)
DEFAULT_SCOPES = ("openid",)


class ClientSpec(BaseModel):
    """Everything about a client but its secret."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(pattern=CLIENT_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    module_id: uuid.UUID | None = None
    public: bool = False
    redirect_uris: list[RedirectUri] = Field(default_factory=list)
    post_logout_redirect_uris: list[RedirectUri] = Field(default_factory=list)
    grant_types: list[GrantType] = Field(default_factory=lambda: list(DEFAULT_GRANT_TYPES))
    scopes: list[Scope] = Field(default_factory=lambda: list(DEFAULT_SCOPES))
    enabled: bool = True

    _unique_lists = field_validator(
        "redirect_uris", "post_logout_redirect_uris", "grant_types", "scopes"
    )(_unique)

    @model_validator(mode="after")
    def _grants_fit(self) -> ClientSpec:
        if self.public and GrantType.CLIENT_CREDENTIALS in self.grant_types:
            raise ValueError("a public client has no secret, so it cannot use client_credentials")
        if GrantType.AUTHORIZATION_CODE in self.grant_types and not self.redirect_uris:
            raise ValueError("the authorization_code grant needs at least one redirect URI")
        return self
