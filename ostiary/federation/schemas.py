"""What the identity providers API takes and shows. The client secret is never shown."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator

from ostiary.contexts.schemas import KEY_PATTERN
from ostiary.contexts.schemas import _email_domains as check_email_domains

DEFAULT_SCOPES = ["openid", "email", "profile"]
_SCOPE = r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_issuer(value: str) -> str:
    """An https URL without query or fragment (OIDC Discovery section 3); plain http only on
    the loopback interface, where there is no network to be read on."""
    parts = urlsplit(value)
    if parts.query or parts.fragment or not parts.hostname:
        raise ValueError("must be an https URL with a host and no query or fragment")
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname)):
        raise ValueError("must be an https URL (http only for localhost)")
    # Kept exactly as given: ID tokens are checked against it character for character.
    return value


def check_scopes(values: list[str]) -> list[str]:
    if "openid" not in values:
        raise ValueError("must include 'openid'")
    return list(dict.fromkeys(values))


Issuer = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(check_issuer)]
Scopes = Annotated[
    list[Annotated[str, Field(pattern=_SCOPE)]],
    Field(min_length=1, max_length=20),
    AfterValidator(check_scopes),
]
ClaimName = Annotated[str, Field(min_length=1, max_length=100)]


class IdentityProviderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN, description="Stable handle, in the callback URL.")
    name: str = Field(min_length=1, max_length=200, description="Shown on the login button.")
    issuer: Issuer = Field(description="The upstream's issuer; its discovery document is read.")
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: SecretStr = Field(min_length=1, max_length=1000)
    scopes: Scopes = Field(default_factory=lambda: list(DEFAULT_SCOPES))
    domain: str = Field(min_length=1, max_length=64, description="User domain of its users.")
    email_domains: list[str] = Field(
        default_factory=list, description="E-mail domains sent to this provider at login."
    )
    roles_claim: ClaimName | None = Field(
        None, description="ID token claim holding the external role names of the login."
    )
    enabled: bool = True

    _domains = field_validator("email_domains")(check_email_domains)


class IdentityProviderUpdate(BaseModel):
    """Only the fields given are changed; ``null`` clears ``roles_claim``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    issuer: Issuer | None = None
    client_id: str | None = Field(None, min_length=1, max_length=255)
    client_secret: SecretStr | None = Field(None, min_length=1, max_length=1000)
    scopes: Scopes | None = None
    domain: str | None = Field(None, min_length=1, max_length=64)
    email_domains: list[str] | None = None
    roles_claim: ClaimName | None = None
    enabled: bool | None = None

    @field_validator("email_domains")
    @classmethod
    def _domains(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else check_email_domains(values)


class IdentityProviderOut(BaseModel):
    id: uuid.UUID
    key: str
    name: str
    issuer: str
    client_id: str
    scopes: list[str]
    domain: str
    email_domains: list[str]
    roles_claim: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime
