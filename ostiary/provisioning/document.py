"""The provisioning file (PRODUCT.md, "Stable interfaces"): its entries, and reading it from YAML.

An entry sets the fields it names. A field it leaves out keeps its stored value (a new object
gets the default), and ``null`` clears an optional field; passwords and client secrets are only
ever set, never cleared. A user's ``memberships``, when given, are exactly the user's
memberships and group memberships; so are those of a client's ``service_account``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from ostiary.access.models import AclType
from ostiary.authn.passwords import Passwords
from ostiary.branding.schemas import BrandingIn
from ostiary.clients.schemas import (
    DEFAULT_ACCESS_TOKEN_SECONDS,
    DEFAULT_GRANT_TYPES,
    DEFAULT_REFRESH_IDLE_SECONDS,
    DEFAULT_REFRESH_TOKEN_SECONDS,
    DEFAULT_SCOPES,
    AccessTokenSeconds,
    AuthMethod,
    ClientId,
    Grant,
    Jwks,
    RedirectUri,
    RefreshSeconds,
    Scope,
    SigningAlg,
)
from ostiary.clients.secrets import is_secret_hash
from ostiary.contexts.models import ContextStatus, ContextType
from ostiary.contexts.schemas import KEY_PATTERN
from ostiary.contexts.schemas import _email_domains as check_email_domains
from ostiary.errors import FieldProblem, InvalidInput
from ostiary.federation.schemas import DEFAULT_SCOPES as DEFAULT_IDP_SCOPES
from ostiary.federation.schemas import ClaimName, Issuer, Scopes
from ostiary.users.models import TwoFactor, UserStatus
from ostiary.users.schemas import DomainCreate, Email, Language, Name, Phone, Username

Key = Annotated[str, Field(pattern=KEY_PATTERN)]
Label = Annotated[str, Field(min_length=1, max_length=200)]
# {module key: {acl key: value}}; values are checked against the module's ACLs when applied.
Rights = dict[str, dict[str, Any]]
ProvisionedStatus = Literal[UserStatus.DRAFT, UserStatus.ACTIVE, UserStatus.INACTIVE]


def _check_argon2_hash(value: str) -> str:
    if not Passwords.is_argon2_hash(value):
        raise ValueError("must be an argon2id hash ($argon2id$...)")
    return value


def _check_client_secret_hash(value: str) -> str:
    if not is_secret_hash(value):
        raise ValueError("must be a client secret hash made by Ostiary ($sha256$...)")
    return value


Argon2Hash = Annotated[str, AfterValidator(_check_argon2_hash)]
ClientSecretHash = Annotated[str, AfterValidator(_check_client_secret_hash)]
# libyaml's loader where PyYAML was built with it: several times faster on large files.
YamlLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def place_of(prefix: str, loc: Sequence[str | int]) -> str:
    """``users[3].memberships[0].context`` from a prefix and the steps below it."""
    text = prefix
    for step in loc:
        if isinstance(step, int):
            text += f"[{step}]"
        elif not text or text.endswith(":"):
            text += str(step)
        else:
            text += f".{step}"
    return text


def placed(problems: Iterable[FieldProblem], place: str) -> list[FieldProblem]:
    """Problems that a service or check names by field, named by their place in the file."""
    return [
        FieldProblem(place_of(place, [p.field] if p.field else []), p.message) for p in problems
    ]


class Entry(BaseModel):
    """One entry of a section; knows its place in the file for problem reports."""

    # Numbers are accepted where text is expected: CRM numbers are often written unquoted.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    _place: str = PrivateAttr(default="")
    # Fields left out because they were invalid (already reported).
    _invalid: frozenset[str] = PrivateAttr(default=frozenset())

    @property
    def place(self) -> str:
        return self._place

    @property
    def intact(self) -> bool:
        return not self._invalid

    def is_invalid(self, field: str) -> bool:
        return field in self._invalid

    def at(self, *loc: str | int) -> str:
        return place_of(self._place, loc)

    def states(self, field: str) -> bool:
        """Whether the file names this field (left out means: keep what is stored)."""
        return field in self.model_fields_set


class ContextEntry(Entry):
    key: Key
    type: ContextType
    name: Label
    parent: str | None = None
    number: str | None = Field(None, min_length=1, max_length=100)
    status: ContextStatus = ContextStatus.ACTIVE
    email_domains: list[str] = Field(default_factory=list)
    # Left out: the stored branding stays; null: none (docs/branding.md; the logo is not here).
    branding: BrandingIn | None = None

    _domains = field_validator("email_domains")(check_email_domains)


class DomainEntry(Entry, DomainCreate):
    pass


class IdentityProviderEntry(Entry):
    """An upstream OpenID Connect provider. Its client secret is needed to create it, and only
    ever set, never cleared; an export leaves it out."""

    key: Key
    name: Label
    issuer: Issuer
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: SecretStr | None = Field(None, min_length=1, max_length=1000)
    scopes: Scopes = Field(default_factory=lambda: list(DEFAULT_IDP_SCOPES))
    domain: str = Field(min_length=1, max_length=64)
    email_domains: list[str] = Field(default_factory=list)
    roles_claim: ClaimName | None = None
    enabled: bool = True

    _domains = field_validator("email_domains")(check_email_domains)


class AclEntry(Entry):
    key: str = Field(min_length=1, max_length=100)
    category: str = Field("General", min_length=1, max_length=100)
    type: AclType = AclType.BOOL
    description: str | None = Field(None, max_length=500)


class ModuleEntry(Entry):
    key: str = Field(pattern=KEY_PATTERN, max_length=64)
    name: Label
    context_types: list[ContextType] = Field(default_factory=list)
    access_right: str | None = Field(None, min_length=1, max_length=100)
    acls: list[AclEntry] = Field(default_factory=list)


class TemplateEntry(Entry):
    key: Key
    name: Label
    context_types: list[ContextType] = Field(default_factory=list)
    rights: Rights = Field(default_factory=dict)


class GroupEntry(Entry):
    context: str
    name: Label
    role: Label | None = None
    template: str | None = None
    rights: Rights = Field(default_factory=dict)


class MembershipEntry(Entry):
    context: str
    groups: list[Label] = Field(default_factory=list)


class UserEntry(Entry):
    username: Username
    domain: str
    email: Email | None = None
    # The CRM vouches for the address; a new address without it is unverified.
    email_verified: bool = False
    phone: Phone | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    password: SecretStr | None = None
    password_hash: Argon2Hash | None = None
    status: ProvisionedStatus = UserStatus.DRAFT
    language: Language | None = None
    two_factor: TwoFactor = TwoFactor.INHERIT
    memberships: list[MembershipEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_password(self) -> UserEntry:
        if self.password is not None and self.password_hash is not None:
            raise ValueError("give password or password_hash, not both")
        return self


class ServiceAccountEntry(Entry):
    """The user a confidential client allowed client_credentials acts as: its memberships,
    when given, are exactly its memberships and group memberships, as for a user."""

    status: Literal[UserStatus.ACTIVE, UserStatus.INACTIVE] = UserStatus.ACTIVE
    memberships: list[MembershipEntry] = Field(default_factory=list)


class ClientEntry(Entry):
    """A client; the rules between its fields are those of ``ClientSettings``, checked on
    the entry merged with the stored client."""

    client_id: ClientId
    client_secret: SecretStr | None = None
    client_secret_hash: ClientSecretHash | None = None
    name: Label
    module: str | None = None
    # Key of the context the application belongs to (its branding shows at login).
    context: str | None = None
    branding: BrandingIn | None = None
    redirect_uris: list[RedirectUri] = Field(default_factory=list)
    post_logout_redirect_uris: list[RedirectUri] = Field(default_factory=list)
    grant_types: list[Grant] = Field(default_factory=lambda: list(DEFAULT_GRANT_TYPES))
    scopes: list[Scope] = Field(default_factory=lambda: list(DEFAULT_SCOPES))
    public: bool = False
    # Left out (None): the default of the kind of client, none or client_secret_basic.
    token_endpoint_auth_method: AuthMethod | None = None
    jwks: Jwks | None = None
    access_token_seconds: AccessTokenSeconds = DEFAULT_ACCESS_TOKEN_SECONDS
    refresh_token_seconds: RefreshSeconds = DEFAULT_REFRESH_TOKEN_SECONDS
    refresh_idle_seconds: RefreshSeconds = DEFAULT_REFRESH_IDLE_SECONDS
    signing_alg: SigningAlg = SigningAlg.ES256
    requires_context: bool = True
    enabled: bool = True
    service_account: ServiceAccountEntry | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> ClientEntry:
        if self.client_secret is not None and self.client_secret_hash is not None:
            raise ValueError("give client_secret or client_secret_hash, not both")
        return self


# The sections in the order they are applied: everything refers only to sections before it.
SECTIONS: dict[str, type[Entry]] = {
    "contexts": ContextEntry,
    "domains": DomainEntry,
    "modules": ModuleEntry,
    "templates": TemplateEntry,
    "groups": GroupEntry,
    "users": UserEntry,
    "clients": ClientEntry,
    "identity_providers": IdentityProviderEntry,
}
# The field that names an entry of each section (groups: within their context).
NAME_FIELDS: dict[str, str] = {
    "contexts": "key",
    "domains": "name",
    "modules": "key",
    "templates": "key",
    "groups": "name",
    "users": "username",
    "clients": "client_id",
    "identity_providers": "key",
}


class ProvisioningDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contexts: list[ContextEntry] = Field(default_factory=list)
    domains: list[DomainEntry] = Field(default_factory=list)
    modules: list[ModuleEntry] = Field(default_factory=list)
    templates: list[TemplateEntry] = Field(default_factory=list)
    groups: list[GroupEntry] = Field(default_factory=list)
    users: list[UserEntry] = Field(default_factory=list)
    clients: list[ClientEntry] = Field(default_factory=list)
    identity_providers: list[IdentityProviderEntry] = Field(default_factory=list)

    # Problems found while reading, and the entries left out because of them (section, name).
    _problems: list[FieldProblem] = PrivateAttr(default_factory=list)
    _broken: set[tuple[str, str]] = PrivateAttr(default_factory=set)

    @model_validator(mode="after")
    def _number_entries(self) -> ProvisioningDocument:
        for section in SECTIONS:
            for index, entry in enumerate(getattr(self, section)):
                if not entry.place:
                    entry._place = place_of("", [section, index])
        return self

    @property
    def problems(self) -> list[FieldProblem]:
        return self._problems

    def is_broken(self, section: str, name: str) -> bool:
        """Whether the file has this entry but it was left out for its problems."""
        return (section, name) in self._broken


def load_documents(paths: Sequence[Path]) -> ProvisioningDocument:
    """Read provisioning files and merge them, in order.

    A file that cannot be read or is not YAML raises InvalidInput at once. Entries that break
    the schema are left out of the document and listed in its ``problems``, so that
    ``Provisioner.apply`` reports them together with every other problem of the files.
    """
    prefixes = _prefixes(paths)
    read_problems: list[FieldProblem] = []
    contents = [
        _read_yaml(path, prefix, read_problems)
        for path, prefix in zip(paths, prefixes, strict=True)
    ]
    if read_problems:
        raise InvalidInput(read_problems)
    sections: dict[str, list[Entry]] = {section: [] for section in SECTIONS}
    problems: list[FieldProblem] = []
    broken: set[tuple[str, str]] = set()
    for content, prefix in zip(contents, prefixes, strict=True):
        for section, entries in _parse_sections(content, prefix, problems, broken).items():
            sections[section].extend(entries)
    document = ProvisioningDocument.model_validate(sections)
    document._problems = problems
    document._broken = broken
    return document


def _prefixes(paths: Sequence[Path]) -> list[str]:
    if len(paths) < 2:
        return [""] * len(paths)
    names = [path.name for path in paths]
    unique = len(set(names)) == len(names)
    return [f"{name if unique else path}:" for name, path in zip(names, paths, strict=True)]


def _read_yaml(path: Path, prefix: str, problems: list[FieldProblem]) -> object:
    where = prefix.removesuffix(":") or path.name
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=YamlLoader)
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(FieldProblem(where, f"cannot be read: {exc}"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.append(FieldProblem(prefix + at, f"not valid YAML: {exc.problem}"))
    except yaml.YAMLError as exc:
        problems.append(FieldProblem(where, f"not valid YAML: {exc}"))
    return None


def _parse_sections(
    content: object, prefix: str, problems: list[FieldProblem], broken: set[tuple[str, str]]
) -> dict[str, list[Entry]]:
    if content is None:
        return {}
    if not isinstance(content, dict):
        problems.append(
            FieldProblem(prefix.removesuffix(":"), f"must be a mapping with the lists {_known()}")
        )
        return {}
    parsed: dict[str, list[Entry]] = {}
    for section, items in content.items():
        place = place_of(prefix, [str(section)])
        model = SECTIONS.get(section)
        if model is None:
            problems.append(FieldProblem(place, f"unknown section (known: {_known()})"))
        elif items is not None and not isinstance(items, list):
            problems.append(FieldProblem(place, "must be a list"))
        else:
            parsed[section] = _parse_entries(model, section, items or [], prefix, problems, broken)
    return parsed


def _known() -> str:
    return ", ".join(SECTIONS)


def _parse_entries(
    model: type[Entry],
    section: str,
    items: list[object],
    prefix: str,
    problems: list[FieldProblem],
    broken: set[tuple[str, str]],
) -> list[Entry]:
    entries: list[Entry] = []
    for index, raw in enumerate(items):
        place = place_of(prefix, [section, index])
        entry = _parse_entry(model, raw, place, problems)
        if entry is not None:
            entry._place = place
            entries.append(entry)
        elif isinstance(raw, dict) and isinstance(name := raw.get(NAME_FIELDS[section]), str):
            broken.add((section, _entry_name(section, raw, name)))
    return entries


def _entry_name(section: str, raw: dict[str, Any], name: str) -> str:
    return f"{raw.get('context')}/{name}" if section == "groups" else name


def _parse_entry(
    model: type[Entry], raw: object, place: str, problems: list[FieldProblem]
) -> Entry | None:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        problems.extend(FieldProblem(place_of(place, e["loc"]), message_of(e)) for e in errors)
        return _without_invalid_fields(model, raw, errors)


def _without_invalid_fields(
    model: type[Entry], raw: object, errors: list[ErrorDetails]
) -> Entry | None:
    """The entry without its invalid fields, so that the rest of it can still be checked;
    None when it cannot stand without them."""
    if not isinstance(raw, dict) or any(not error["loc"] for error in errors):
        return None
    invalid = {str(error["loc"][0]) for error in errors}
    try:
        entry = model.model_validate({k: v for k, v in raw.items() if k not in invalid})
    except ValidationError:
        return None
    entry._invalid = frozenset(invalid)
    return entry


def message_of(error: ErrorDetails) -> str:
    """A validation error's message, in the words of the other problems."""
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "is required"
    return error["msg"].removeprefix("Value error, ")
