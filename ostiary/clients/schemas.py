"""What a client (an application that signs users in or calls APIs) is registered with.

The one place for the rules of a registration, used by the admin API and the provisioning file.
Rules about one value live in its type; rules between fields in ``ClientSettings``, as field
validators that see the fields declared before them, so that each problem names the field it
is about (``grant_types``, ``redirect_uris[2]``).
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from urllib.parse import SplitResult, urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ostiary import text
from ostiary.errors import FieldProblem
from ostiary.text import Text

if TYPE_CHECKING:
    from ostiary.clients.models import Client

CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$"
# A narrower scope-token than RFC 6749, 3.3 allows: enough for "orders.read", "api:write" and
# URL-like scopes, without quotes, brackets or wildcards that would only confuse a reader.
SCOPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$"
STANDARD_SCOPES = ("openid", "profile", "email", "phone", "offline_access")

MAX_URI_LENGTH = 2000
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Schemes that run or embed content in the browser instead of reaching an application.
FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about"})

ACCESS_TOKEN_SECONDS = (60, 24 * 3600)
REFRESH_SECONDS = (60, 365 * 24 * 3600)

MAX_KEYS = 10
MIN_RSA_BITS = 2048
# Members of a JWK that only the key's holder may know (RFC 7518, 6.2.2, 6.3.2 and 6.4).
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
PUBLIC_KEY_TYPES = frozenset({"EC", "RSA", "OKP"})


class GrantType(enum.StrEnum):
    """The grants Ostiary offers; implicit and password are left out as RFC 9700 asks."""

    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"
    CLIENT_CREDENTIALS = "client_credentials"


class AuthMethod(enum.StrEnum):
    """How a client proves itself at the token endpoint."""

    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    PRIVATE_KEY_JWT = "private_key_jwt"
    NONE = "none"


class SigningAlg(enum.StrEnum):
    ES256 = "ES256"
    RS256 = "RS256"


SECRET_METHODS = frozenset({AuthMethod.CLIENT_SECRET_BASIC, AuthMethod.CLIENT_SECRET_POST})
DEFAULT_GRANT_TYPES = (GrantType.AUTHORIZATION_CODE,)
DEFAULT_SCOPES = ("openid",)
DEFAULT_ACCESS_TOKEN_SECONDS = 600
DEFAULT_REFRESH_TOKEN_SECONDS = 30 * 24 * 3600
DEFAULT_REFRESH_IDLE_SECONDS = 7 * 24 * 3600


def default_auth_method(public: bool) -> AuthMethod:
    return AuthMethod.NONE if public else AuthMethod.CLIENT_SECRET_BASIC


def uses_secret(method: str) -> bool:
    """Whether a client with this method authenticates with a secret (and so has one)."""
    return method in SECRET_METHODS


# -- redirect URIs ----------------------------------------------------------------------------


def check_redirect_uri(value: str) -> str:
    """A URI the authorization server may send a browser to (RFC 9700, 2.1; RFC 8252, 7).

    Kept exactly as written: redirect URIs are compared exactly, so there is nothing to
    normalise and no pattern to expand.
    """
    _check_characters(value)
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if not scheme:
        raise ValueError("must be an absolute URI")
    if scheme in FORBIDDEN_SCHEMES:
        raise ValueError(Text("the {scheme}: scheme is not allowed", scheme=scheme))
    if "#" in value:
        raise ValueError("must not contain a fragment")
    if "*" in value:
        raise ValueError("must not contain wildcards: redirect URIs are matched exactly")
    if scheme in {"http", "https"}:
        _check_web_uri(scheme, parts)
    elif "." not in scheme:
        raise ValueError(
            "an app's private-use scheme must be a reverse domain name such as "
            "com.example.app (RFC 8252, 7.1); web applications use https"
        )
    return value


def _check_characters(value: str) -> None:
    # Browsers read a backslash as a slash and drop whitespace, so such a URI could lead
    # somewhere other than where it seems to.
    if not value.isascii() or any(c.isspace() or c == "\\" or not c.isprintable() for c in value):
        raise ValueError("must be ASCII without spaces or backslashes (percent-encode the rest)")


def _check_web_uri(scheme: str, parts: SplitResult) -> None:
    if "@" in parts.netloc:
        raise ValueError("must not contain user information (user@host)")
    if not parts.hostname:
        raise ValueError("must name a host")
    try:
        parts.port  # noqa: B018 (raises for a port that is not a number in range)
    except ValueError:
        raise ValueError("has an invalid port") from None
    if scheme == "http" and parts.hostname.lower() not in LOOPBACK_HOSTS:
        raise ValueError(
            "must use https; http only for loopback (localhost, 127.0.0.1, [::1]) of native apps"
        )


# -- keys ---------------------------------------------------------------------------------------


def check_jwks(value: dict[str, Any]) -> dict[str, Any]:
    """A JWK Set of public signing keys, for private_key_jwt (RFC 7523)."""
    keys = value.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ValueError('must be a JWK Set: {"keys": [...]} with at least one key')
    if len(keys) > MAX_KEYS:
        raise ValueError(Text("may hold at most {max_keys} keys", max_keys=MAX_KEYS))
    for index, key in enumerate(keys):
        _check_public_key(index, key)
    try:
        KeySet.import_key_set(value)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(Text("is not a valid JWK Set ({name})", name=type(exc).__name__)) from None
    return value


def _check_public_key(index: int, key: object) -> None:
    if not isinstance(key, dict):
        raise ValueError(Text("keys[{index}] must be a JWK (an object)", index=index))
    private = [member for member in PRIVATE_MEMBERS if member in key]
    if private:
        raise ValueError(
            Text(
                "keys[{index}] holds private key material ({private}); give only the public key",
                index=index,
                private=", ".join(private),
            )
        )
    if key.get("kty") not in PUBLIC_KEY_TYPES:
        raise ValueError(Text("keys[{index}] must be an EC, RSA or OKP public key", index=index))
    if key.get("use", "sig") != "sig":
        raise ValueError(Text("keys[{index}] must be a signing key (use: sig)", index=index))
    if key["kty"] == "RSA" and _bits(key.get("n")) < MIN_RSA_BITS:
        raise ValueError(
            Text(
                "keys[{index}] must be an RSA key of at least {min_rsa_bits} bits",
                index=index,
                min_rsa_bits=MIN_RSA_BITS,
            )
        )


def _bits(encoded: object) -> int:
    """The size of a base64url-encoded big-endian number; 0 if it is not one."""
    if not isinstance(encoded, str):
        return 0
    try:
        number = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return 0
    return int.from_bytes(number, "big").bit_length()


# -- single values --------------------------------------------------------------------------------


def _known_grant(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be a grant type name")
    if value in ("implicit", "password"):
        raise ValueError(
            Text("the {value} grant is not offered: RFC 9700 rules it out", value=value)
        )
    if value not in set(GrantType):
        raise ValueError(Text("must be one of {grants}", grants=", ".join(GrantType)))
    return value


def _check_scope(value: str) -> str:
    if re.fullmatch(SCOPE_PATTERN, value) is None:
        raise ValueError(
            "must be a scope token of letters, digits and . _ : / - (up to 100 characters)"
        )
    return value


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


ClientId = Annotated[str, Field(pattern=CLIENT_ID_PATTERN)]
Label = Annotated[str, Field(min_length=1, max_length=200)]
RedirectUri = Annotated[
    str, Field(min_length=1, max_length=MAX_URI_LENGTH), AfterValidator(check_redirect_uri)
]
Scope = Annotated[str, AfterValidator(_check_scope)]
Grant = Annotated[GrantType, BeforeValidator(_known_grant)]
Jwks = Annotated[dict[str, Any], AfterValidator(check_jwks)]
AccessTokenSeconds = Annotated[
    int, Field(ge=ACCESS_TOKEN_SECONDS[0], le=ACCESS_TOKEN_SECONDS[1], strict=True)
]
RefreshSeconds = Annotated[int, Field(ge=REFRESH_SECONDS[0], le=REFRESH_SECONDS[1], strict=True)]
ModuleKey = Annotated[str, Field(min_length=1, max_length=64)]


# -- whole registrations ---------------------------------------------------------------------


class ClientSettings(BaseModel):
    """A client's registration but its id, module and secret, with the rules between fields.

    Each rule is checked by the validator of the later of its fields, which sees the earlier
    ones in ``info.data`` (a field that failed its own checks is missing there, and the rules
    that need it are skipped: its problem is reported already).
    """

    model_config = ConfigDict(extra="forbid")

    name: Label
    public: bool = Field(False, description="Runs where it cannot keep a secret (SPA, app).")
    token_endpoint_auth_method: AuthMethod | None = Field(
        None,
        validate_default=True,
        description="Left out: none for public clients, client_secret_basic for the others.",
    )
    jwks: Jwks | None = Field(
        None, validate_default=True, description="Public keys; needed for private_key_jwt."
    )
    grant_types: list[Grant] = Field(
        default_factory=lambda: list(DEFAULT_GRANT_TYPES), validate_default=True
    )
    redirect_uris: list[RedirectUri] = Field(default_factory=list, validate_default=True)
    post_logout_redirect_uris: list[RedirectUri] = Field(default_factory=list)
    scopes: list[Scope] = Field(default_factory=lambda: list(DEFAULT_SCOPES))
    access_token_seconds: AccessTokenSeconds = DEFAULT_ACCESS_TOKEN_SECONDS
    refresh_token_seconds: RefreshSeconds = Field(
        DEFAULT_REFRESH_TOKEN_SECONDS,
        description="A refresh token family ends this long after login.",
    )
    refresh_idle_seconds: RefreshSeconds = Field(
        DEFAULT_REFRESH_IDLE_SECONDS,
        validate_default=True,
        description="A refresh token unused this long dies; at most refresh_token_seconds.",
    )
    signing_alg: SigningAlg = SigningAlg.ES256
    requires_context: bool = Field(True, description="A context is chosen at login.")
    enabled: bool = True

    _unique_lists = field_validator("post_logout_redirect_uris", "scopes")(_unique)

    @field_validator("token_endpoint_auth_method")
    @classmethod
    def _method_fits(cls, value: AuthMethod | None, info: ValidationInfo) -> AuthMethod | None:
        public = info.data.get("public")
        if public is None:
            return value
        if value is None:
            return default_auth_method(public)
        if public and value is not AuthMethod.NONE:
            raise ValueError("a public client has no credentials: its method is none")
        if not public and value is AuthMethod.NONE:
            raise ValueError("none is for public clients only")
        return value

    @field_validator("jwks")
    @classmethod
    def _keys_given(
        cls, value: dict[str, Any] | None, info: ValidationInfo
    ) -> dict[str, Any] | None:
        method = info.data.get("token_endpoint_auth_method")
        if method is AuthMethod.PRIVATE_KEY_JWT and value is None:
            raise ValueError("private_key_jwt needs the client's public keys (a JWK Set)")
        return value

    @field_validator("grant_types")
    @classmethod
    def _grants_fit(cls, value: list[GrantType], info: ValidationInfo) -> list[GrantType]:
        grants = _unique(value)
        if not grants:
            raise ValueError("needs at least one grant type")
        if GrantType.REFRESH_TOKEN in grants and GrantType.AUTHORIZATION_CODE not in grants:
            raise ValueError("refresh_token needs authorization_code, whose logins it extends")
        if info.data.get("public") and GrantType.CLIENT_CREDENTIALS in grants:
            raise ValueError("a public client has no secret, so it cannot use client_credentials")
        return grants

    @field_validator("redirect_uris")
    @classmethod
    def _redirects_fit(cls, value: list[str], info: ValidationInfo) -> list[str]:
        uris = _unique(value)
        if GrantType.AUTHORIZATION_CODE in info.data.get("grant_types", ()) and not uris:
            raise ValueError("the authorization_code grant needs at least one redirect URI")
        return uris

    @field_validator("refresh_idle_seconds")
    @classmethod
    def _idle_within_absolute(cls, value: int, info: ValidationInfo) -> int:
        absolute = info.data.get("refresh_token_seconds")
        if absolute is not None and value > absolute:
            raise ValueError(
                Text("must not exceed refresh_token_seconds ({absolute})", absolute=absolute)
            )
        return value

    @property
    def auth_method(self) -> AuthMethod:
        """The method, always set once validated."""
        return self.token_endpoint_auth_method or default_auth_method(self.public)


class ClientSpec(ClientSettings):
    """Everything about a client but its secret, as the services store it."""

    client_id: ClientId
    module_id: uuid.UUID | None = None
    context_id: uuid.UUID | None = None


class ClientCreate(ClientSettings):
    client_id: ClientId | None = Field(None, description="Left out: Ostiary makes one.")
    module: ModuleKey | None = Field(None, description="Key of the module the client serves.")
    context_id: uuid.UUID | None = Field(
        None, description="The context the application belongs to; its branding shows at login."
    )


class ClientUpdate(BaseModel):
    """The fields to change; the result must follow the same rules as a new registration.

    Turning ``public`` on or off without naming a method resets the method to the new kind's
    default.
    """

    model_config = ConfigDict(extra="forbid")

    name: Label | None = None
    module: ModuleKey | None = None
    context_id: uuid.UUID | None = None
    public: bool | None = None
    token_endpoint_auth_method: AuthMethod | None = None
    jwks: Jwks | None = None
    grant_types: list[Grant] | None = None
    redirect_uris: list[RedirectUri] | None = None
    post_logout_redirect_uris: list[RedirectUri] | None = None
    scopes: list[Scope] | None = None
    access_token_seconds: AccessTokenSeconds | None = None
    refresh_token_seconds: RefreshSeconds | None = None
    refresh_idle_seconds: RefreshSeconds | None = None
    signing_alg: SigningAlg | None = None
    requires_context: bool | None = None
    enabled: bool | None = None


class ClientOut(BaseModel):
    """A registration as read: never the secret nor its hash."""

    client_id: str
    name: str
    module: str | None
    public: bool
    token_endpoint_auth_method: str
    jwks: dict[str, Any] | None
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    grant_types: list[str]
    scopes: list[str]
    access_token_seconds: int
    refresh_token_seconds: int
    refresh_idle_seconds: int
    signing_alg: str
    requires_context: bool
    enabled: bool
    context_id: uuid.UUID | None = Field(
        None, description="The context the application belongs to (its branding at login)."
    )
    has_secret: bool = Field(description="Whether a secret is set (it is never shown again).")
    service_account_user_id: uuid.UUID | None = Field(
        None,
        description="The user (a service account) that the client's client_credentials tokens "
        "act as at the admin API; confidential clients allowed client_credentials have one. "
        "Its rights come from its memberships and groups, like any user's.",
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, client: Client, module: str | None, **extra: Any) -> Self:
        """``module``: the key of the client's module."""
        stored = {field: getattr(client, field) for field in _STORED_OUT_FIELDS}
        return cls(**stored, module=module, has_secret=client.secret_hash is not None, **extra)


class ClientIssued(ClientOut):
    client_secret: str | None = Field(
        None, description="A secret Ostiary has just made: shown this once, store it now."
    )


SETTINGS_FIELDS = tuple(ClientSettings.model_fields)
_STORED_OUT_FIELDS = tuple(set(ClientOut.model_fields) - {"module", "has_secret"})


def merged_spec(
    client_id: str, stored: Mapping[str, Any] | None, given: Mapping[str, Any]
) -> ClientSpec:
    """The registration once ``given`` is applied over the ``stored`` one (raises
    ValidationError)."""
    values = {**(stored or {}), **given}
    switched = stored is not None and "public" in given and given["public"] != stored["public"]
    if switched and "token_endpoint_auth_method" not in given:
        # The stored method belongs to the other kind of client.
        values["token_endpoint_auth_method"] = None
    return ClientSpec(client_id=client_id, **values)


def problems_of(error: ValidationError, renamed: Mapping[str, str]) -> list[FieldProblem]:
    """A validation error's problems, each named like ``redirect_uris[2]``."""
    return [FieldProblem(_field_of(e["loc"], renamed), text.of_schema(e)) for e in error.errors()]


def _field_of(loc: Sequence[str | int], renamed: Mapping[str, str]) -> str:
    name = ""
    for step in loc:
        if isinstance(step, int):
            name += f"[{step}]"
        else:
            step = renamed.get(step, step)
            name += f".{step}" if name else step
    return name
