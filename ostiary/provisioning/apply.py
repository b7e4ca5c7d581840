"""Bringing the database to the state that a provisioning document describes.

Everything is checked first, and every problem is reported; only a document without problems is
written, in one transaction, through the services, so that each change writes its audit event
in that transaction. An entry that already matches the stored state writes nothing.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from pydantic import SecretStr

from ostiary.access.models import UserGroup
from ostiary.audit.actor import Actor
from ostiary.branding.services import Owner
from ostiary.clients.models import Client
from ostiary.clients.secrets import verify_secret
from ostiary.contexts.models import Context
from ostiary.contexts.schemas import ContextCreate, ContextUpdate
from ostiary.db.session import OstiarySession
from ostiary.errors import (
    FieldProblem,
    InvalidInput,
    InvalidTransition,
    OstiaryError,
    RuleViolation,
)
from ostiary.federation.schemas import IdentityProviderCreate, IdentityProviderUpdate
from ostiary.provisioning.checks import (
    Checker,
    RightsResolver,
    Services,
    client_spec,
    differences,
    lifecycle_path,
    merged,
    module_spec,
)
from ostiary.provisioning.document import (
    NAME_FIELDS,
    SECTIONS,
    ClientEntry,
    ContextEntry,
    DomainEntry,
    Entry,
    GroupEntry,
    IdentityProviderEntry,
    ModuleEntry,
    ProvisioningDocument,
    ServiceAccountEntry,
    TemplateEntry,
    UserEntry,
    placed,
)
from ostiary.runtime import Runtime
from ostiary.users.lifecycle import LifecycleAction
from ostiary.users.models import User, UserStatus
from ostiary.users.schemas import DomainUpdate, UserCreate, UserUpdate

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
ACTOR = Actor(label="provisioning", via="provisioning")
CONTEXT_FIELDS = ("key", "name", "number", "status", "email_domains")
PROFILE_FIELDS = (
    "email",
    "email_verified",
    "phone",
    "first_name",
    "last_name",
    "language",
    "two_factor",
)
USER_CREATE_FIELDS = {"username", "domain", "password", *PROFILE_FIELDS}

E = TypeVar("E", bound=Entry)


@dataclass(frozen=True)
class Outcome:
    section: str
    name: str
    result: str


@dataclass
class ApplyReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, section: str, name: str, result: str) -> None:
        self.outcomes.append(Outcome(section, name, result))

    def lines(self) -> list[str]:
        """One line for each entry created or updated, in the order of the file's sections."""
        order = list(SECTIONS)
        ordered = sorted(self.outcomes, key=lambda outcome: order.index(outcome.section))
        return [
            f"{o.result} {o.section.removesuffix('s')} {o.name}"
            for o in ordered
            if o.result != UNCHANGED
        ]

    @property
    def unchanged(self) -> bool:
        return all(outcome.result == UNCHANGED for outcome in self.outcomes)

    def summary(self) -> str:
        counts = Counter(outcome.result for outcome in self.outcomes)
        return ", ".join(f"{counts[result]} {result}" for result in (CREATED, UPDATED, UNCHANGED))


class Provisioner:
    def __init__(self, runtime: Runtime, session: OstiarySession) -> None:
        self.runtime = runtime
        self.session = session

    def apply(self, document: ProvisioningDocument) -> ApplyReport:
        """Write the whole document or, when it has any problem, nothing (InvalidInput)."""
        services = Services(self.session, ACTOR, self.runtime)
        writer = Writer(services)
        with self.session.atomic():
            checker = Checker(services, document)
            problems = checker.check()
            # Right values are checked against stored ACLs and templates, so the file's modules
            # and templates are written first; raising below rolls them back with the rest.
            rights = RightsResolver(self.session, document, problems)
            writer.write_modules(rights.writable("modules", document.modules))
            template_values = rights.of_templates()
            writer.write_templates(
                rights.writable("templates", document.templates), template_values
            )
            group_values = rights.of_groups(checker.context_type)
            if problems:
                raise InvalidInput(problems)
            writer.write(document, group_values)
        return writer.report


class Writer:
    """Writes checked entries through the services and tells what each one changed."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.report = ApplyReport()

    def write_modules(self, entries: Iterable[ModuleEntry]) -> None:
        self._each("modules", entries, self._module)

    def write_templates(
        self, entries: Iterable[TemplateEntry], values: dict[str, dict[uuid.UUID, str]]
    ) -> None:
        """``values``: the right values of the entries that give rights, by place."""
        self._each("templates", entries, lambda entry: self._template(entry, values))

    def write(
        self, document: ProvisioningDocument, values: dict[str, dict[uuid.UUID, str]]
    ) -> None:
        """The rest; ``values``: the right values of the group entries that give any, by place."""
        self._each("contexts", document.contexts, self._context)
        self._each("domains", document.domains, self._domain)
        self._each("groups", document.groups, lambda entry: self._group(entry, values))
        self._each("users", document.users, self._user)
        self._each("clients", document.clients, self._client)
        self._each("identity_providers", document.identity_providers, self._identity_provider)

    def _each(self, section: str, entries: Iterable[E], write: Callable[[E], str]) -> None:
        for entry in entries:
            with _at(entry.place):
                result = write(entry)
            self.report.add(section, _name_of(section, entry), result)

    # -- one entry each ---------------------------------------------------------------------

    def _context(self, entry: ContextEntry) -> str:
        stored = self.services.context_for(entry)
        if stored is None:
            parent = self._context_named(entry.parent) if entry.parent else None
            data = ContextCreate(
                key=entry.key,
                type=entry.type,
                name=entry.name,
                parent_id=parent.id if parent else None,
                number=entry.number,
                status=entry.status,
                email_domains=entry.email_domains,
            )
            self._branding(Owner(context=self.services.contexts.create(data)), entry)
            return CREATED
        changes = differences(entry, {f: getattr(stored, f) for f in CONTEXT_FIELDS})
        if changes:
            self.services.contexts.update(stored, ContextUpdate(**changes))
        moved = self._move(stored, entry)
        branded = self._branding(Owner(context=stored), entry)
        return UPDATED if changes or moved or branded else UNCHANGED

    def _branding(self, owner: Owner, entry: ContextEntry | ClientEntry) -> bool:
        """Left out of the entry: the stored branding stays."""
        if not entry.states("branding"):
            return False
        return self.services.brandings.apply(owner, entry.branding)[1]

    def _move(self, context: Context, entry: ContextEntry) -> bool:
        if entry.parent is None or not entry.states("parent"):
            return False
        parent = self._context_named(entry.parent)
        if parent.id == context.parent_id:
            return False
        self.services.contexts.move(context, parent)
        return True

    def _domain(self, entry: DomainEntry) -> str:
        stored = self.services.domain(entry.name)
        if stored is None:
            self.services.domains.create(entry)
            return CREATED
        changes = differences(entry, {"kind": stored.kind, "context_types": stored.context_types})
        if not changes:
            return UNCHANGED
        self.services.domains.update(stored, DomainUpdate(**changes))
        return UPDATED

    def _identity_provider(self, entry: IdentityProviderEntry) -> str:
        providers = self.services.identity_providers
        stored = providers.find(entry.key)
        if stored is None:
            assert entry.client_secret is not None  # checked
            providers.create(
                IdentityProviderCreate(
                    **entry.model_dump(exclude={"client_secret"}), client_secret=entry.client_secret
                )
            )
            return CREATED
        given = {name: getattr(entry, name) for name in entry.model_fields_set - {"key"}}
        if entry.client_secret is None:
            given.pop("client_secret", None)
        return UPDATED if providers.change(stored, IdentityProviderUpdate(**given)) else UNCHANGED

    def _module(self, entry: ModuleEntry) -> str:
        return self.services.modules.put(module_spec(entry, self.services.module(entry.key)))

    def _template(self, entry: TemplateEntry, values: dict[str, dict[uuid.UUID, str]]) -> str:
        stored = self.services.template(entry.key)
        if entry.states("rights"):
            rights = values[entry.place]
        else:
            rights = self.services.templates.values(stored) if stored else {}
        _, result = self.services.templates.put(
            entry.key,
            name=entry.name,
            context_types=[str(t) for t in merged(entry, "context_types", stored)],
            rights=rights,
        )
        return result

    def _group(self, entry: GroupEntry, values: dict[str, dict[uuid.UUID, str]]) -> str:
        """``values`` hold the template's values with the entry's own over them, where the entry
        gives either; otherwise the group keeps its rights."""
        context = self._context_named(entry.context)
        stored = self.services.groups.find(context, entry.name)
        kept = {right.acl_id: right.value for right in stored.rights} if stored else {}
        _, result = self.services.groups.put(
            context,
            entry.name,
            role=merged(entry, "role", stored),
            rights=values.get(entry.place, kept),
        )
        return result

    def _user(self, entry: UserEntry) -> str:
        stored = self.services.user(entry.username)
        if stored is None:
            user = self._create_user(entry)
            self._join_listed(user, entry)
            return CREATED
        # Memberships are left before the domain changes, which they might not fit.
        steps = (
            self._leave_unlisted,
            self._update_profile,
            self._change_status,
            self._change_password,
            self._join_listed,
        )
        changed = [step(stored, entry) for step in steps]
        return UPDATED if any(changed) else UNCHANGED

    def _create_user(self, entry: UserEntry) -> User:
        initial = UserStatus.DRAFT if entry.status is UserStatus.DRAFT else UserStatus.ACTIVE
        data = UserCreate(status=initial, **entry.model_dump(include=USER_CREATE_FIELDS))
        user = self.services.users.create(data, password_hash=entry.password_hash)
        self._change_status(user, entry)
        return user

    def _update_profile(self, user: User, entry: UserEntry) -> bool:
        current = {"domain": user.domain.name} | {f: getattr(user, f) for f in PROFILE_FIELDS}
        changes = differences(entry, current)
        if changes:
            self.services.users.update(user, UserUpdate(**changes))
        return bool(changes)

    def _change_status(self, user: User, entry: UserEntry) -> bool:
        if not entry.states("status"):
            return False
        current = UserStatus(user.status)
        path = lifecycle_path(current, entry.status)
        if path is None:
            raise InvalidTransition(f"a user who is {current} cannot become {entry.status}")
        for action in path:
            self.services.users.act(user, action)
        return bool(path)

    def _change_password(self, user: User, entry: UserEntry) -> bool:
        return self._change_secret(
            user.password_hash,
            entry.password,
            entry.password_hash,
            self.services.passwords.verify,
            partial(self.services.users.set_password, user),
            partial(self.services.users.set_password_hash, user),
        )

    def _leave_unlisted(self, user: User, entry: UserEntry | ServiceAccountEntry) -> bool:
        if not entry.states("memberships"):
            return False
        listed = {membership.context for membership in entry.memberships}
        left = [
            self.services.memberships.remove(user, context)
            for _, context in self.services.memberships.list(user)
            if context.key not in listed
        ]
        return any(left)

    def _join_listed(self, user: User, entry: UserEntry | ServiceAccountEntry) -> bool:
        if not entry.states("memberships"):
            return False
        changed = False
        for membership in entry.memberships:
            context = self._context_named(membership.context)
            _, joined = self.services.memberships.add(user, context)
            groups = {self._group_named(context, name).id for name in membership.groups}
            regrouped = self.services.groups.set_members_of_user(user.id, context, groups)
            changed = changed or joined or regrouped
        return changed

    def _client(self, entry: ClientEntry) -> str:
        stored = self.services.clients.find(entry.client_id)
        context = self._context_named(entry.context) if entry.context else None
        spec = client_spec(
            entry, stored, self._client_module_id(entry, stored), context.id if context else None
        )
        client, result = self.services.clients.put(spec)
        secret_changed = self._change_secret(
            client.secret_hash,
            entry.client_secret,
            entry.client_secret_hash,
            verify_secret,
            partial(self.services.clients.set_secret, client),
            partial(self.services.clients.set_secret_hash, client),
        )
        account_changed = self._service_account(client, entry.service_account)
        branded = self._branding(Owner(client=client), entry)
        changed = secret_changed or account_changed or branded
        return UPDATED if changed and result == UNCHANGED else result

    def _service_account(self, client: Client, entry: ServiceAccountEntry | None) -> bool:
        if entry is None:
            return False
        user = self.services.clients.service_account(client)
        if user is None:
            raise RuleViolation(
                "only a confidential client allowed client_credentials has a service account"
            )
        # Memberships are left before the status changes, as for users.
        steps = (self._leave_unlisted, self._account_status, self._join_listed)
        return any([step(user, entry) for step in steps])

    def _account_status(self, user: User, entry: ServiceAccountEntry) -> bool:
        if not entry.states("status") or user.status == entry.status:
            return False
        self.services.users.act(
            user,
            LifecycleAction.ACTIVATE
            if entry.status is UserStatus.ACTIVE
            else LifecycleAction.DEACTIVATE,
        )
        return True

    def _client_module_id(self, entry: ClientEntry, stored: Client | None) -> uuid.UUID | None:
        if stored is not None and not entry.states("module"):
            return stored.module_id
        if entry.module is None:
            return None
        module = self.services.module(entry.module)
        if module is None:
            raise RuleViolation(f"no module with key '{entry.module}'")
        return module.id

    # -- helpers ----------------------------------------------------------------------------

    def _change_secret(
        self,
        stored_hash: str | None,
        plain: SecretStr | None,
        hashed: str | None,
        matches: Callable[[str | None, str], bool],
        set_plain: Callable[[str], None],
        set_hash: Callable[[str], None],
    ) -> bool:
        """Set a password or secret unless the stored hash is of the same one already;
        ``matches`` tells, as passwords and client secrets are hashed differently."""
        if plain is not None:
            if matches(stored_hash, plain.get_secret_value()):
                return False
            set_plain(plain.get_secret_value())
            return True
        if hashed is not None and hashed != stored_hash:
            set_hash(hashed)
            return True
        return False

    def _context_named(self, key: str) -> Context:
        context = self.services.context(key)
        if context is None:
            raise RuleViolation(f"no context with key '{key}'")
        return context

    def _group_named(self, context: Context, name: str) -> UserGroup:
        group = self.services.groups.find(context, name)
        if group is None:
            raise RuleViolation(f"no group '{name}' in context '{context.key}'")
        return group


def _name_of(section: str, entry: Entry) -> str:
    if isinstance(entry, GroupEntry):
        return f"{entry.name} in {entry.context}"
    return str(getattr(entry, NAME_FIELDS[section]))


@contextmanager
def _at(place: str) -> Iterator[None]:
    """Name the entry in a problem that a service finds while writing (the checks missed it);
    the transaction is rolled back with it."""
    try:
        yield
    except InvalidInput as exc:
        raise InvalidInput(placed(exc.problems, place)) from exc
    except OstiaryError as exc:
        raise InvalidInput([FieldProblem(place, exc.detail)]) from exc
