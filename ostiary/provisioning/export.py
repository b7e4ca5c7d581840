"""Writing the stored state as a provisioning file that ``ostiary apply`` takes as it is.

Entries come in the order they can be applied in (a context after its parent), each list in a
stable order, and each entry states only what differs from the defaults. Passwords are never
written; their hashes and those of client secrets only when asked for.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from operator import attrgetter, itemgetter
from typing import Any, TypeVar

import yaml
from sqlalchemy import select

from ostiary.access.models import AclTemplate, GroupMember, Module, UserGroup
from ostiary.access.rightsets import RightSets
from ostiary.audit.actor import Actor
from ostiary.branding.services import BrandingService, Owner
from ostiary.clients.console import built_in
from ostiary.clients.models import Client
from ostiary.clients.schemas import default_auth_method
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.federation.models import IdentityProvider
from ostiary.provisioning.document import (
    AclEntry,
    ClientEntry,
    ContextEntry,
    DomainEntry,
    Entry,
    GroupEntry,
    IdentityProviderEntry,
    MembershipEntry,
    ModuleEntry,
    ProvisioningDocument,
    ServiceAccountEntry,
    TemplateEntry,
    UserEntry,
)
from ostiary.users.models import Membership, User, UserDomain, UserStatus

E = TypeVar("E", bound=Entry)
T = TypeVar("T")
YamlDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def export_document(session: OstiarySession, *, with_secrets: bool) -> str:
    return render(Exporter(session, with_secrets=with_secrets).document())


def render(document: ProvisioningDocument) -> str:
    """The document as YAML, with the fields each entry states and no empty sections."""
    sections = document.model_dump(mode="json", exclude_unset=True)
    filled = {name: entries for name, entries in sections.items() if entries}
    return yaml.dump(filled, Dumper=YamlDumper, sort_keys=False, allow_unicode=True, width=100)


def _entry(model: type[E], stated: dict[str, Any], optional: dict[str, Any]) -> E:
    """An entry of ``stated`` and of the ``optional`` values that differ from the defaults."""
    fields = model.model_fields
    kept = {
        name: value
        for name, value in optional.items()
        if value != fields[name].get_default(call_default_factory=True)
    }
    return model(**stated, **kept)


class Exporter:
    def __init__(self, session: OstiarySession, *, with_secrets: bool) -> None:
        self.session = session
        self.with_secrets = with_secrets
        self.rights = RightSets(session)
        self.contexts = self._contexts_in_tree_order()
        self.context_keys = {context.id: context.key for context in self.contexts}
        self.context_rank = {context.id: rank for rank, context in enumerate(self.contexts)}
        self.memberships = self._memberships_by_user()
        self.brandings = BrandingService(session, Actor("export", "cli"))

    def document(self) -> ProvisioningDocument:
        return ProvisioningDocument(
            contexts=[self._context(context) for context in self.contexts],
            domains=[self._domain(domain) for domain in self._all(UserDomain, "name")],
            modules=[self._module(module) for module in self._all(Module, "key")],
            templates=[self._template(template) for template in self._all(AclTemplate, "key")],
            groups=[self._group(group) for group in self._groups()],
            users=self._users(),
            # The console's own client is made by every start (``ostiary.clients.console``).
            clients=[
                self._client(client)
                for client in self._all(Client, "client_id")
                if not built_in(client)
            ],
            identity_providers=[
                self._identity_provider(provider) for provider in self._all(IdentityProvider, "key")
            ],
        )

    def _all(self, model: type[T], name: str) -> list[T]:
        """Every row, ordered by ``name`` here: the databases' collations order differently."""
        return sorted(self.session.scalars(select(model)), key=attrgetter(name))

    def _contexts_in_tree_order(self) -> list[Context]:
        """Parents before children, siblings by key (ids do not order contexts made at once)."""
        children: dict[uuid.UUID | None, list[Context]] = defaultdict(list)
        for context in self._all(Context, "key"):
            children[context.parent_id].append(context)
        ordered: list[Context] = []
        pending = list(reversed(children[None]))
        while pending:
            context = pending.pop()
            ordered.append(context)
            pending.extend(reversed(children[context.id]))
        return ordered

    def _context(self, context: Context) -> ContextEntry:
        return _entry(
            ContextEntry,
            {"key": context.key, "type": context.type, "name": context.name},
            {
                "parent": self.context_keys[context.parent_id] if context.parent_id else None,
                "number": context.number,
                "status": context.status,
                "email_domains": context.email_domains,
                "branding": self.brandings.stated(Owner(context=context)),
            },
        )

    def _domain(self, domain: UserDomain) -> DomainEntry:
        return _entry(
            DomainEntry,
            {"name": domain.name, "context_types": domain.context_types},
            {"kind": domain.kind},
        )

    def _identity_provider(self, provider: IdentityProvider) -> IdentityProviderEntry:
        """Without the client secret, which is Ostiary's at the upstream: giving it out would
        let the file's reader pose as Ostiary there. Applying the entry keeps the stored one."""
        domain = self.session.get(UserDomain, provider.domain_id)
        assert domain is not None  # a foreign key
        return _entry(
            IdentityProviderEntry,
            {
                "key": provider.key,
                "name": provider.name,
                "issuer": provider.issuer,
                "client_id": provider.client_id,
                "domain": domain.name,
            },
            {
                "scopes": list(provider.scopes),
                "email_domains": list(provider.email_domains),
                "roles_claim": provider.roles_claim,
                "enabled": provider.enabled,
            },
        )

    def _module(self, module: Module) -> ModuleEntry:
        acls = [
            _entry(
                AclEntry,
                {"key": acl.key},
                {"category": acl.category, "type": acl.type, "description": acl.description},
            )
            for acl in sorted(module.acls, key=attrgetter("key"))
        ]
        return _entry(
            ModuleEntry,
            {"key": module.key, "name": module.name},
            {
                "context_types": module.context_types,
                "access_right": module.access_right,
                "acls": acls,
            },
        )

    def _template(self, template: AclTemplate) -> TemplateEntry:
        return _entry(
            TemplateEntry,
            {"key": template.key, "name": template.name},
            {
                "context_types": template.context_types,
                "rights": self.rights.describe((r.acl, r.value) for r in template.rights),
            },
        )

    def _groups(self) -> list[UserGroup]:
        groups = self._all(UserGroup, "name")
        return sorted(groups, key=lambda group: self.context_rank[group.context_id])

    def _group(self, group: UserGroup) -> GroupEntry:
        return _entry(
            GroupEntry,
            {"context": self.context_keys[group.context_id], "name": group.name},
            {
                "role": group.role,
                "rights": self.rights.describe((r.acl, r.value) for r in group.rights),
            },
        )

    def _users(self) -> list[UserEntry]:
        """Every user but the deleted ones and the service accounts (written with their
        clients)."""
        memberships = self.memberships
        users = self.session.scalars(
            select(User).where(User.status != UserStatus.DELETED, User.service_account.is_(False))
        )
        return [
            self._user(user, memberships[user.id])
            for user in sorted(users, key=attrgetter("username"))
        ]

    def _memberships_by_user(self) -> dict[uuid.UUID, list[MembershipEntry]]:
        groups: dict[tuple[uuid.UUID, uuid.UUID], list[str]] = defaultdict(list)
        rows = self.session.execute(
            select(GroupMember.user_id, UserGroup.context_id, UserGroup.name).join(
                UserGroup, UserGroup.id == GroupMember.group_id
            )
        )
        for user_id, context_id, name in sorted(rows, key=itemgetter(2)):
            groups[(user_id, context_id)].append(name)
        memberships: dict[uuid.UUID, list[MembershipEntry]] = defaultdict(list)
        pairs = self.session.execute(select(Membership.user_id, Membership.context_id)).all()
        for user_id, context_id in sorted(pairs, key=lambda pair: self.context_rank[pair[1]]):
            memberships[user_id].append(
                _entry(
                    MembershipEntry,
                    {"context": self.context_keys[context_id]},
                    {"groups": groups[(user_id, context_id)]},
                )
            )
        return memberships

    def _user(self, user: User, memberships: list[MembershipEntry]) -> UserEntry:
        # Memberships are always stated, so that applying the file makes them exactly these.
        return _entry(
            UserEntry,
            {"username": user.username, "domain": user.domain.name, "memberships": memberships},
            {
                "email": user.email,
                "email_verified": user.email_verified,
                "phone": user.phone,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "password_hash": user.password_hash if self.with_secrets else None,
                "status": user.status,
                "language": user.language,
                "two_factor": user.two_factor,
            },
        )

    def _client(self, client: Client) -> ClientEntry:
        module = self.session.get(Module, client.module_id) if client.module_id else None
        # The method is left out where it is the one the kind of client gets by default.
        method = client.token_endpoint_auth_method
        stated_method = None if method == default_auth_method(client.public) else method
        return _entry(
            ClientEntry,
            {"client_id": client.client_id, "name": client.name},
            {
                "client_secret_hash": client.secret_hash if self.with_secrets else None,
                "module": module.key if module else None,
                "context": self.context_keys.get(client.context_id) if client.context_id else None,
                "branding": self.brandings.stated(Owner(client=client)),
                "redirect_uris": client.redirect_uris,
                "post_logout_redirect_uris": client.post_logout_redirect_uris,
                "grant_types": client.grant_types,
                "scopes": client.scopes,
                "public": client.public,
                "token_endpoint_auth_method": stated_method,
                "jwks": client.jwks,
                "access_token_seconds": client.access_token_seconds,
                "refresh_token_seconds": client.refresh_token_seconds,
                "refresh_idle_seconds": client.refresh_idle_seconds,
                "signing_alg": client.signing_alg,
                "requires_context": client.requires_context,
                "enabled": client.enabled,
                "service_account": self._service_account(client),
            },
        )

    def _service_account(self, client: Client) -> ServiceAccountEntry | None:
        account = (
            self.session.get(User, client.service_account_user_id)
            if client.service_account_user_id is not None
            else None
        )
        if account is None:
            return None
        # Memberships are always stated, so that applying the file makes them exactly these.
        return _entry(
            ServiceAccountEntry,
            {"memberships": self.memberships[account.id]},
            {"status": account.status},
        )
