"""Checking a provisioning document against itself and the stored state, before any write.

The checks name each problem by its place in the file and go on, so that one run lists them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import select

from ostiary.access.catalogue import AclSpec, ModuleSpec
from ostiary.access.groups import GroupService
from ostiary.access.models import Acl, AclTemplate, AclType, Module, UserGroup
from ostiary.access.modules import ModuleService, check_access_right
from ostiary.access.rightsets import RightSets, compose
from ostiary.access.templates import TemplateService
from ostiary.audit.actor import Actor
from ostiary.branding.services import BrandingService
from ostiary.clients.models import Client
from ostiary.clients.schemas import (
    SETTINGS_FIELDS,
    AuthMethod,
    ClientSpec,
    GrantType,
    default_auth_method,
    merged_spec,
    uses_secret,
)
from ostiary.clients.secrets import secret_problems
from ostiary.clients.services import ClientService, stored_settings
from ostiary.contexts.models import ALLOWED_PARENTS, Context, ContextType
from ostiary.contexts.services import ContextService
from ostiary.db.session import OstiarySession
from ostiary.errors import FieldProblem, InvalidInput, RuleViolation
from ostiary.federation.services import IdentityProviderService
from ostiary.provisioning.document import (
    NAME_FIELDS,
    AclEntry,
    ClientEntry,
    ContextEntry,
    Entry,
    MembershipEntry,
    ModuleEntry,
    ProvisioningDocument,
    ServiceAccountEntry,
    UserEntry,
    message_of,
    place_of,
    placed,
)
from ostiary.runtime import Runtime
from ostiary.users.domains import DomainService
from ostiary.users.lifecycle import TRANSITIONS, LifecycleAction
from ostiary.users.memberships import MembershipService
from ostiary.users.models import DomainKind, User, UserDomain, UserStatus
from ostiary.users.service_accounts import SERVICE_ACCOUNT_DOMAIN
from ostiary.users.services import UserService

E = TypeVar("E", bound=Entry)
K = TypeVar("K")
# The fields of a client entry that are the client's registration (ClientSettings).
CLIENT_FIELDS = SETTINGS_FIELDS


# -- what the entries and the stored state make together ------------------------------------


def merged(entry: Entry, field: str, stored: object | None, stored_field: str = "") -> Any:
    """The entry's value where it names the field or nothing is stored; else the stored one."""
    if entry.states(field) or stored is None:
        return getattr(entry, field)
    return getattr(stored, stored_field or field)


def differences(entry: Entry, current: dict[str, object]) -> dict[str, object]:
    """The fields the entry names whose values differ from ``current``."""
    return {
        field: getattr(entry, field)
        for field, value in current.items()
        if entry.states(field) and getattr(entry, field) != value
    }


def module_spec(entry: ModuleEntry, stored: Module | None) -> ModuleSpec:
    stored_acls = {acl.key: acl for acl in stored.acls} if stored else {}
    return ModuleSpec(
        key=entry.key,
        name=entry.name,
        context_types=[str(t) for t in merged(entry, "context_types", stored)],
        access_right=merged(entry, "access_right", stored),
        acls=[_acl_spec(acl, stored_acls.get(acl.key)) for acl in entry.acls],
    )


def _acl_spec(entry: AclEntry, stored: Acl | None) -> AclSpec:
    return AclSpec(
        key=entry.key,
        category=merged(entry, "category", stored),
        type=AclType(merged(entry, "type", stored)),
        description=merged(entry, "description", stored),
    )


def client_spec(
    entry: ClientEntry,
    stored: Client | None,
    module_id: uuid.UUID | None,
    context_id: uuid.UUID | None = None,
) -> ClientSpec:
    """The client once the entry is applied (raises ValidationError): the fields it names
    over the stored ones, all of its own for a new client."""
    given = {f: getattr(entry, f) for f in CLIENT_FIELDS if stored is None or entry.states(f)}
    if stored is None or entry.states("context"):
        given["context_id"] = context_id
    current = stored_settings(stored) if stored is not None else None
    return merged_spec(entry.client_id, current, {**given, "module_id": module_id})


def lifecycle_path(current: UserStatus, target: UserStatus) -> list[LifecycleAction] | None:
    """The shortest series of lifecycle actions from one status to another, never deleting."""
    paths: dict[UserStatus, list[LifecycleAction]] = {current: []}
    queue = [current]
    while queue:
        status = queue.pop(0)
        if status == target:
            return paths[status]
        for (source, action), result in TRANSITIONS.items():
            if source != status or result in (None, UserStatus.DELETED) or result in paths:
                continue
            assert result is not None
            paths[result] = [*paths[status], action]
            queue.append(result)
    return None


class Services:
    """The services provisioning works through, and lookups of what the file's names stand
    for among the stored objects."""

    def __init__(self, session: OstiarySession, actor: Actor, runtime: Runtime) -> None:
        self.session = session
        self.passwords = runtime.passwords
        self.contexts = ContextService(session, actor)
        self.domains = DomainService(session, actor)
        self.modules = ModuleService(session, actor)
        self.templates = TemplateService(session, actor)
        self.groups = GroupService(session, actor)
        self.users = UserService(session, actor, runtime.passwords)
        self.memberships = MembershipService(session, actor)
        self.clients = ClientService(session, actor)
        self.brandings = BrandingService(session, actor)
        self.identity_providers = IdentityProviderService(session, actor, runtime.settings)

    def context(self, key: str) -> Context | None:
        return self.contexts.get_by_key(key)

    def context_for(self, entry: ContextEntry) -> Context | None:
        """There is one root context: a root entry stands for it whatever its key."""
        if entry.type is ContextType.ROOT:
            return self.contexts.root()
        return self.context(entry.key)

    def parent_key(self, context: Context) -> str | None:
        if context.parent_id is None:
            return None
        return self.contexts.get(context.parent_id).key

    def context_with_number(self, number: str) -> Context | None:
        return self.session.scalars(select(Context).where(Context.number == number)).one_or_none()

    def domain(self, name: str) -> UserDomain | None:
        return self.domains.find(name)

    def module(self, key: str) -> Module | None:
        return self.modules.find(key)

    def template(self, key: str) -> AclTemplate | None:
        return self.templates.find(key)

    def group(self, context_key: str, name: str) -> UserGroup | None:
        context = self.context(context_key)
        return None if context is None else self.groups.find(context, name)

    def user(self, username: str) -> User | None:
        return self.session.scalars(select(User).where(User.username == username)).one_or_none()

    def user_with_email(self, email: str) -> User | None:
        return self.session.scalars(
            select(User).where(User.email_key == email.casefold())
        ).one_or_none()

    def client(self, client_id: str) -> Client | None:
        return self.clients.find(client_id)


# -- the checks -----------------------------------------------------------------------------


class Checker:
    def __init__(self, services: Services, document: ProvisioningDocument) -> None:
        self.document = document
        self.services = services
        self.problems: list[FieldProblem] = list(document.problems)
        self.contexts = _first_by(document.contexts, lambda e: e.key)
        self.domains = _first_by(document.domains, lambda e: e.name)
        self.modules = _first_by(document.modules, lambda e: e.key)
        self.groups = _first_by(document.groups, lambda e: (e.context, e.name))

    def check(self) -> list[FieldProblem]:
        self._check_duplicates()
        self._check_contexts()
        self._check_modules()
        self._check_groups()
        self._check_users()
        self._check_clients()
        self._check_identity_providers()
        return self.problems

    def report(self, entry: Entry, loc: Sequence[str | int], message: str) -> None:
        # A field left out for being invalid was reported already; what follows from its
        # absence would only repeat that.
        if (loc and entry.is_invalid(str(loc[0]))) or (not loc and not entry.intact):
            return
        self.problems.append(FieldProblem(place_of(entry.place, loc), message))

    def _missing(self, entry: Entry, loc: Sequence[str | int], section: str, name: str) -> None:
        """Report a reference to nothing, unless it names an entry already reported as broken."""
        if not self.document.is_broken(section, name):
            self.report(entry, loc, _NOT_FOUND[section](name))

    # -- names given twice ------------------------------------------------------------------

    def _check_duplicates(self) -> None:
        for section, field in NAME_FIELDS.items():
            first: dict[object, Entry] = {}
            for entry in getattr(self.document, section):
                name = (entry.context, entry.name) if section == "groups" else getattr(entry, field)
                if name in first:
                    self.report(
                        entry,
                        (field,),
                        f"'{getattr(entry, field)}' is given twice (first at {first[name].place})",
                    )
                else:
                    first[name] = entry

    def _check_unique(
        self,
        entries: Sequence[E],
        field: str,
        name_of: Callable[[E], str],
        owner_of: Callable[[str], str | None],
        normalise: Callable[[str], str] = str,
    ) -> None:
        """A value that must be unique: once in the file, and not held by another stored object
        (unless the file gives that object another value)."""
        by_name = {name_of(entry): entry for entry in entries}
        first: dict[str, E] = {}
        for entry in entries:
            value = getattr(entry, field)
            if value is None or not entry.states(field):
                continue
            key = normalise(value)
            if key in first:
                self.report(entry, (field,), f"'{value}' is also given at {first[key].place}")
                continue
            first[key] = entry
            owner = owner_of(value)
            if owner is None or owner == name_of(entry):
                continue
            other = by_name.get(owner)
            released = other is not None and other.states(field)
            if not released or normalise(getattr(other, field) or "") == key:
                self.report(entry, (field,), f"'{value}' already belongs to '{owner}'")

    # -- contexts ---------------------------------------------------------------------------

    def _check_contexts(self) -> None:
        root: ContextEntry | None = None
        for index, entry in enumerate(self.document.contexts):
            stored = self.services.context_for(entry)
            if stored is not None and stored.type != entry.type:
                self.report(
                    entry,
                    ("type",),
                    f"'{stored.key}' is a {stored.type} context; "
                    "the type of a context cannot change",
                )
            elif entry.type is not ContextType.ROOT:
                self._check_parent(index, entry, stored)
            elif root is not None:
                self.report(entry, ("type",), f"there is one root context, given at {root.place}")
            else:
                root = entry
                self._check_root(entry)
        self._check_unique(
            self.document.contexts,
            "number",
            lambda e: e.key,
            lambda number: _key_of(self.services.context_with_number(number)),
        )

    def _check_root(self, entry: ContextEntry) -> None:
        if entry.parent is not None:
            self.report(entry, ("parent",), "the root context has no parent")
        holder = self.services.context(entry.key)
        if holder is not None and holder.type != ContextType.ROOT:
            self.report(entry, ("key",), f"'{entry.key}' is the key of a {holder.type} context")

    def _check_parent(self, index: int, entry: ContextEntry, stored: Context | None) -> None:
        if entry.parent is None:
            if stored is None or entry.states("parent"):
                self.report(entry, ("parent",), f"a {entry.type} context needs a parent")
            return
        parent_type = self._parent_type(index, entry)
        if parent_type is None:
            return
        allowed = ALLOWED_PARENTS[entry.type]
        if parent_type not in allowed:
            self.report(
                entry,
                ("parent",),
                f"a {entry.type} context cannot be placed under a {parent_type} context "
                f"(allowed parents: {', '.join(sorted(allowed))})",
            )
        elif stored is not None and self._is_within(entry.parent, entry.key):
            self.report(entry, ("parent",), "a context cannot move into its own subtree")

    def _parent_type(self, index: int, entry: ContextEntry) -> ContextType | None:
        """The type of the entry's parent, which must come earlier in the file or be stored."""
        key = entry.parent
        assert key is not None
        earlier = next((e for e in self.document.contexts[:index] if e.key == key), None)
        if earlier is not None:
            return earlier.type
        stored = self.services.context(key)
        if stored is not None:
            return ContextType(stored.type)
        if key in self.contexts:
            self.report(entry, ("parent",), f"context '{key}' must come before '{entry.key}'")
        else:
            self._missing(entry, ("parent",), "contexts", key)
        return None

    def _is_within(self, key: str, ancestor: str) -> bool:
        """Whether context ``key`` will lie in the subtree of ``ancestor`` once applied."""
        seen: set[str] = set()
        current: str | None = key
        while current is not None and current not in seen:
            if current == ancestor:
                return True
            seen.add(current)
            current = self._parent_after(current)
        return False

    def _parent_after(self, key: str) -> str | None:
        entry = self.contexts.get(key)
        if entry is not None and entry.states("parent"):
            return entry.parent
        stored = self.services.context(key)
        return None if stored is None else self.services.parent_key(stored)

    def context_type(self, key: str) -> str | None:
        """The type of the context ``key`` once the file is applied; None if there is none."""
        found = self.contexts.get(key)
        if found is not None:
            return str(found.type)
        stored = self.services.context(key)
        return None if stored is None else stored.type

    def _context_type(self, entry: Entry, loc: Sequence[str | int], key: str) -> str | None:
        context_type = self.context_type(key)
        if context_type is None:
            self._missing(entry, loc, "contexts", key)
        return context_type

    # -- modules, templates and groups ------------------------------------------------------

    def _check_modules(self) -> None:
        for entry in self.document.modules:
            first: dict[str, int] = {}
            for index, acl in enumerate(entry.acls):
                if acl.key in first:
                    self.report(
                        entry,
                        ("acls", index, "key"),
                        f"'{acl.key}' is given twice (first at {entry.at('acls', first[acl.key])})",
                    )
                first.setdefault(acl.key, index)
            self._check_access_right(entry)

    def _check_access_right(self, entry: ModuleEntry) -> None:
        stored = self.services.module(entry.key)
        spec = module_spec(entry, stored)
        # ModuleSpec keeps stored ACLs that it does not name.
        kinds = {acl.key: (str(acl.type), acl.category) for acl in stored.acls} if stored else {}
        kinds |= {acl.key: (str(acl.type), acl.category) for acl in spec.acls}
        try:
            check_access_right(spec.access_right, kinds)
        except RuleViolation as exc:
            self.report(entry, ("access_right",), exc.detail)

    def _check_groups(self) -> None:
        # Templates and right values are checked once the file's modules and templates are
        # stored (RightsResolver).
        for entry in self.document.groups:
            self._context_type(entry, ("context",), entry.context)

    def _group_exists(self, context_key: str, name: str) -> bool:
        return (context_key, name) in self.groups or self.services.group(
            context_key, name
        ) is not None

    def _module_exists(self, entry: Entry, loc: Sequence[str | int], key: str) -> None:
        if key not in self.modules and self.services.module(key) is None:
            self._missing(entry, loc, "modules", key)

    # -- users --------------------------------------------------------------------------------

    def _check_users(self) -> None:
        for entry in self.document.users:
            stored = self.services.user(entry.username)
            domain = self._domain(entry)
            self._check_status(entry, stored)
            if domain is not None:
                self._check_credentials(entry, domain, merged(entry, "email", stored))
                if entry.states("memberships"):
                    self._check_memberships(entry, domain, entry.memberships)
                elif stored is not None and stored.domain.name != domain.name:
                    self._check_stored_memberships(entry, stored, domain)
        self._check_unique(
            self.document.users,
            "email",
            lambda e: e.username,
            lambda email: _username_of(self.services.user_with_email(email)),
            str.casefold,
        )

    def _domain(self, entry: UserEntry) -> UserDomain | None:
        """The user's domain as it will be: the file's entry (never added to the session), or
        the stored one."""
        found = self.domains.get(entry.domain)
        if found is not None:
            types = [str(t) for t in found.context_types]
            return UserDomain(name=found.name, kind=found.kind, context_types=types)
        stored = self.services.domain(entry.domain)
        if stored is None:
            self._missing(entry, ("domain",), "domains", entry.domain)
        return stored

    def _check_status(self, entry: UserEntry, stored: User | None) -> None:
        if stored is None or not entry.states("status"):
            return
        current = UserStatus(stored.status)
        if lifecycle_path(current, entry.status) is None:
            self.report(entry, ("status",), f"a user who is {current} cannot become {entry.status}")

    def _check_credentials(self, entry: UserEntry, domain: UserDomain, email: str | None) -> None:
        password = entry.password.get_secret_value() if entry.password is not None else None
        try:
            self.services.users._check_credentials(
                domain, entry.username, password, entry.password_hash, email=email
            )
        except InvalidInput as exc:
            self.problems += placed(exc.problems, entry.place)
        except RuleViolation as exc:
            self.report(entry, ("password" if password else "password_hash",), exc.detail)

    def _check_memberships(
        self,
        entry: Entry,
        domain: UserDomain,
        memberships: Sequence[MembershipEntry],
        at: tuple[str, ...] = (),
    ) -> None:
        """``at``: where the memberships are within the entry, before ``memberships``."""
        listed: set[str] = set()
        for index, membership in enumerate(memberships):
            loc = (*at, "memberships", index, "context")
            key = membership.context
            if key in listed:
                self.report(entry, loc, f"context '{key}' is listed twice")
                continue
            listed.add(key)
            context_type = self._context_type(entry, loc, key)
            if context_type is not None and context_type not in domain.context_types:
                self.report(entry, loc, _misplaced(domain, context_type))
            for position, group in enumerate(membership.groups):
                if context_type is not None and not self._group_exists(key, group):
                    self._missing(
                        entry,
                        (*at, "memberships", index, "groups", position),
                        "groups",
                        f"{key}/{group}",
                    )

    def _check_stored_memberships(self, entry: UserEntry, stored: User, domain: UserDomain) -> None:
        """Changing the domain keeps the stored memberships, which must fit the new one."""
        memberships = self.services.memberships.list(stored)
        for _, context in memberships:
            if context.type not in domain.context_types:
                message = f"{_misplaced(domain, context.type)}, and the user is in '{context.key}'"
                self.report(entry, ("domain",), message)

    # -- clients ----------------------------------------------------------------------------

    def _check_clients(self) -> None:
        for entry in self.document.clients:
            stored = self.services.client(entry.client_id)
            if entry.module is not None:
                self._module_exists(entry, ("module",), entry.module)
            if entry.context is not None and self.context_type(entry.context) is None:
                self._missing(entry, ("context",), "contexts", entry.context)
            spec = self._client_spec(entry, stored)
            method = spec.auth_method if spec is not None else _entry_method(entry)
            if entry.client_secret is not None and uses_secret(method):
                self.problems += secret_problems(
                    entry.client_secret.get_secret_value(), field=entry.at("client_secret")
                )
            for field in ("client_secret", "client_secret_hash"):
                if not uses_secret(method) and getattr(entry, field) is not None:
                    self.report(entry, (field,), _no_secret(method))
            if entry.service_account is not None and spec is not None:
                self._check_service_account(entry, entry.service_account, spec, stored)

    def _check_identity_providers(self) -> None:
        for entry in self.document.identity_providers:
            stored = self.services.identity_providers.find(entry.key)
            if stored is None and entry.client_secret is None:
                self.report(entry, ("client_secret",), "is required to add a provider")
            in_file = self.domains.get(entry.domain)
            domain = in_file if in_file is not None else self.services.domain(entry.domain)
            if domain is None:
                self._missing(entry, ("domain",), "domains", entry.domain)
            elif domain.kind != DomainKind.DELEGATED:
                self.report(
                    entry,
                    ("domain",),
                    f"user domain '{entry.domain}' is {domain.kind}: a provider's users belong "
                    "to a delegated domain",
                )

    def _check_service_account(
        self,
        entry: ClientEntry,
        account: ServiceAccountEntry,
        spec: ClientSpec,
        stored: Client | None,
    ) -> None:
        if spec.public or GrantType.CLIENT_CREDENTIALS not in spec.grant_types:
            self.report(
                entry,
                ("service_account",),
                "only a confidential client allowed client_credentials has a service account",
            )
            return
        if not account.states("memberships"):
            return
        user = self.services.clients.service_account(stored) if stored is not None else None
        domain = user.domain if user is not None else self._service_account_domain(entry)
        if domain is not None:
            self._check_memberships(entry, domain, account.memberships, ("service_account",))

    def _service_account_domain(self, entry: ClientEntry) -> UserDomain | None:
        """The domain a new service account will be made in, as it will be."""
        found = self.domains.get(SERVICE_ACCOUNT_DOMAIN)
        if found is not None:
            types = [str(t) for t in found.context_types]
            return UserDomain(name=found.name, kind=found.kind, context_types=types)
        stored = self.services.domain(SERVICE_ACCOUNT_DOMAIN)
        if stored is None:
            self.report(
                entry,
                ("service_account",),
                f"service accounts are made in the user domain {SERVICE_ACCOUNT_DOMAIN}, "
                "which does not exist",
            )
        return stored

    def _client_spec(self, entry: ClientEntry, stored: Client | None) -> ClientSpec | None:
        try:
            return client_spec(entry, stored, None)
        except ValidationError as exc:
            for error in exc.errors():
                loc = ["module" if step == "module_id" else step for step in error["loc"]]
                self.report(entry, loc, message_of(error))
            return None


class RightsResolver:
    """Right values of template and group entries, checked against what is stored: run it
    after the file's modules (then templates) are written, in the same transaction."""

    def __init__(
        self, session: OstiarySession, document: ProvisioningDocument, problems: list[FieldProblem]
    ) -> None:
        self.session = session
        self.document = document
        self.problems = problems
        self._withheld: set[tuple[str, str]] = set()

    def writable(self, section: str, entries: Sequence[E]) -> list[E]:
        """The entries without problems; the others are withheld, and not looked for."""
        writable = []
        for entry in entries:
            if has_problems(entry, self.problems):
                self._withheld.add((section, str(getattr(entry, NAME_FIELDS[section]))))
            else:
                writable.append(entry)
        return writable

    def of_templates(self) -> dict[str, dict[uuid.UUID, str]]:
        """The stored values of each template entry that gives rights, by its place."""
        rights = RightSets(self.session)
        return {
            entry.place: rights.resolve(
                self._checkable(entry.rights), place=entry.at("rights"), problems=self.problems
            )
            for entry in self.document.templates
            if entry.states("rights")
        }

    def of_groups(
        self, context_type: Callable[[str], str | None]
    ) -> dict[str, dict[uuid.UUID, str]]:
        """The template's values with the group's own over them, for each group entry that
        gives either, by its place."""
        values: dict[str, dict[uuid.UUID, str]] = {}
        for entry in self.document.groups:
            if not entry.states("template") and not entry.states("rights"):
                continue
            template = entry.template
            try:
                values[entry.place] = compose(
                    self.session,
                    template_key=None
                    if template and self._unusable("templates", template)
                    else template,
                    rights=self._checkable(entry.rights),
                    context_type=context_type(entry.context),
                )
            except InvalidInput as exc:
                self.problems += placed(exc.problems, entry.place)
        return values

    def _checkable(self, rights: Mapping[str, Mapping[str, object]]) -> dict[str, Any]:
        return {key: values for key, values in rights.items() if not self._unusable("modules", key)}

    def _unusable(self, section: str, name: str) -> bool:
        """Whether the entry was left out for its problems, which are reported already."""
        return (section, name) in self._withheld or self.document.is_broken(section, name)


def has_problems(entry: Entry, problems: Iterable[FieldProblem]) -> bool:
    return any(
        p.field == entry.place or p.field.startswith((f"{entry.place}.", f"{entry.place}["))
        for p in problems
    )


def _first_by(entries: Sequence[E], name_of: Callable[[E], K]) -> dict[K, E]:
    found: dict[K, E] = {}
    for entry in entries:
        found.setdefault(name_of(entry), entry)
    return found


def _key_of(context: Context | None) -> str | None:
    return None if context is None else context.key


def _username_of(user: User | None) -> str | None:
    return None if user is None else user.username


def _entry_method(entry: ClientEntry) -> AuthMethod:
    """The entry's method as far as the entry alone tells (its spec was not valid)."""
    return entry.token_endpoint_auth_method or default_auth_method(entry.public)


def _no_secret(method: AuthMethod) -> str:
    if method is AuthMethod.NONE:
        return "a public client has no secret"
    return f"a client authenticating with {method} has no secret"


def _misplaced(domain: UserDomain, context_type: str) -> str:
    return (
        f"users of {domain.name} cannot belong to {context_type} contexts "
        f"(allowed: {', '.join(domain.context_types)})"
    )


_NOT_FOUND: dict[str, Callable[[str], str]] = {
    "contexts": lambda name: f"no context with key '{name}'",
    "domains": lambda name: f"no user domain named '{name}'",
    "modules": lambda name: f"no module with key '{name}'",
    "templates": lambda name: f"no template with key '{name}'",
    "groups": lambda name: "no group '{1}' in context '{0}'".format(*name.split("/", 1)),
}
