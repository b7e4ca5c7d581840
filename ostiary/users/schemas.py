from __future__ import annotations

import re
import uuid
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import (
    CASE_INSENSITIVE_MAILBOX_NAMES,
    DOT_ATOM_TEXT,
    EMAIL_MAX_LENGTH,
)
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator

from ostiary.contexts.models import ContextType
from ostiary.text import Text
from ostiary.users.models import DomainKind, TwoFactor, User, UserStatus

DELETED_PREFIX = "deleted-"
# Usernames of clients' service accounts (ostiary.users.service_accounts); nobody else's.
SERVICE_ACCOUNT_PREFIX = "service-account-"
RESERVED_PREFIXES = (DELETED_PREFIX, SERVICE_ACCOUNT_PREFIX)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,149}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def check_username(value: str) -> str:
    value = value.strip().lower()
    if not _USERNAME.match(value):
        raise ValueError(
            "must be 1 to 150 characters: letters, digits and . _ @ + -, "
            "starting with a letter or digit"
        )
    for prefix in RESERVED_PREFIXES:
        if value.startswith(prefix):
            raise ValueError(Text("must not start with '{prefix}'", prefix=prefix))
    return value


def check_email(value: str) -> str:
    """The address as ``email_validator`` normalizes it (no DNS lookup), or ValueError.

    Most addresses are a plain ASCII part before the @-sign and a domain that many share: the
    library's checks of the domain are remembered per domain and its rule for a plain local
    part is applied as it states it; anything else is checked whole by the library."""
    value = value.strip()
    local, _, domain = value.partition("@")
    if DOT_ATOM_TEXT.match(local) and local.lower() not in CASE_INSENSITIVE_MAILBOX_NAMES:
        checked = _checked_domain(domain)
        if checked is not None:
            normalized, ascii_domain = checked
            forms = (value, f"{local}@{normalized}", f"{local}@{ascii_domain}")
            if all(len(form.encode()) <= EMAIL_MAX_LENGTH for form in forms):
                return forms[1]
    return _checked_email(value)


def _checked_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


@lru_cache(maxsize=4096)
def _checked_domain(domain: str) -> tuple[str, str] | None:
    """The normalized and the ASCII form of a domain valid after an @-sign, or None."""
    try:
        checked = validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.domain, checked.ascii_domain


@lru_cache(maxsize=4096)
def check_phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError(
            "must be an international number in E.164 form, such as +41446681800"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_language(value: str) -> str:
    if not _LANGUAGE.match(value):
        raise ValueError("must be a language tag such as 'en' or 'de-CH'")
    return value


Username = Annotated[str, AfterValidator(check_username)]
Email = Annotated[str, AfterValidator(check_email)]
Phone = Annotated[str, AfterValidator(check_phone)]
Language = Annotated[str, AfterValidator(check_language)]
Name = Annotated[str, Field(min_length=1, max_length=100)]
InitialStatus = Literal[UserStatus.DRAFT, UserStatus.ACTIVE]


class DomainCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    kind: DomainKind = DomainKind.LOCAL
    context_types: list[ContextType] = Field(min_length=1)

    @field_validator("context_types")
    @classmethod
    def _unique(cls, values: list[ContextType]) -> list[ContextType]:
        return sorted(set(values), key=list(ContextType).index)


class DomainUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: DomainKind | None = None
    context_types: list[ContextType] | None = Field(None, min_length=1)


class DomainOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    kind: DomainKind
    context_types: list[ContextType]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    domain: str = Field(description="Name of the user domain, e.g. CSP or ENTERPRISE.")
    status: InitialStatus = UserStatus.DRAFT
    email: Email | None = None
    email_verified: bool = Field(
        False,
        description="The address is known to be the user's (the CRM verified it); "
        "only with an e-mail address.",
    )
    phone: Phone | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    language: Language | None = None
    two_factor: TwoFactor = TwoFactor.INHERIT
    password: SecretStr | None = None
    context_ids: list[uuid.UUID] = Field(
        default_factory=list, description="Contexts the new user joins at once."
    )


class UserUpdate(BaseModel):
    """Only the fields given are changed; ``null`` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    username: Username | None = None
    domain: str | None = None
    email: Email | None = None
    email_verified: bool | None = Field(
        None,
        description="Whether the address is known to be the user's. A new address without "
        "``email_verified: true`` beside it is unverified.",
    )
    phone: Phone | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    language: Language | None = None
    two_factor: TwoFactor | None = None


class PasswordSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: SecretStr


class UserOut(BaseModel):
    id: uuid.UUID
    username: str
    domain: str
    status: UserStatus
    email: str | None
    email_verified: bool = Field(
        description="The address was proven to be the user's (a code or link sent to it came "
        "back), or the CRM or an administrator said so."
    )
    phone: str | None
    first_name: str | None
    last_name: str | None
    language: str | None
    two_factor: TwoFactor
    has_password: bool
    service_account: bool = Field(
        description="The identity of a client's client_credentials tokens; see the client's "
        "service_account_user_id. It has no password and cannot sign in."
    )
    first_login_at: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            domain=user.domain.name,
            status=UserStatus(user.status),
            email=user.email,
            email_verified=user.email_verified,
            phone=user.phone,
            first_name=user.first_name,
            last_name=user.last_name,
            language=user.language,
            two_factor=TwoFactor(user.two_factor),
            has_password=user.password_hash is not None,
            service_account=user.service_account,
            first_login_at=user.first_login_at,
            last_login_at=user.last_login_at,
            created_at=user.created_at,
            updated_at=user.updated_at,
            deleted_at=user.deleted_at,
        )


class MembershipOut(BaseModel):
    context_id: uuid.UUID
    context_key: str
    context_name: str
    context_type: ContextType
    since: datetime


# -- self-service (ostiary.users.profile) ---------------------------------------------------


class ProfileUpdate(BaseModel):
    """What a user changes at once; only the fields given, ``null`` clears."""

    model_config = ConfigDict(extra="forbid")

    first_name: Name | None = None
    last_name: Name | None = None
    language: Language | None = None


class EmailChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email


class PhoneChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Phone


Code = Annotated[str, Field(min_length=1, max_length=32, description="The code that was sent")]


class EmailVerification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    email: Email | None = Field(
        None, description="The address the code is for; when given, it must be the one waiting"
    )


class PhoneVerification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    phone: Phone | None = Field(
        None, description="The number the code is for; when given, it must be the one waiting"
    )


class PendingChangeOut(BaseModel):
    field: Literal["email", "phone"]
    value: str = Field(description="The new address or number, in effect once verified")
    expires_at: datetime


class ProfileOut(BaseModel):
    username: str
    domain: str
    managed_externally: bool = Field(
        description="The user's data comes from their identity provider (a delegated domain) "
        "and cannot be changed here"
    )
    first_name: str | None
    last_name: str | None
    email: str | None
    email_verified: bool = Field(description="The address was proven to be yours")
    phone: str | None
    language: str | None
    pending: list[PendingChangeOut] = Field(
        description="New e-mail addresses or phone numbers waiting for their verification"
    )
