"""Managing identity providers. Root staff only: a provider's users may join any context.

The client secret is encrypted at rest, bound to the provider's id, and never written to the
audit log nor shown again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db.changes import TABLE_TOPICS
from ostiary.db.session import OstiarySession
from ostiary.db.types import uuid7
from ostiary.errors import AlreadyExists, NotFound, RuleViolation
from ostiary.federation.models import IdentityProvider
from ostiary.federation.schemas import (
    IdentityProviderCreate,
    IdentityProviderOut,
    IdentityProviderUpdate,
)
from ostiary.keys.crypto import SecretBox
from ostiary.settings import Settings
from ostiary.text import Text
from ostiary.users.domains import DomainService
from ostiary.users.models import DomainKind, UserDomain

_SECRET_INFO = b"ostiary/identity-provider-secrets/aes-256-gcm/v1"
_PLAIN_FIELDS = ("name", "issuer", "client_id", "roles_claim", "enabled")


@dataclass(frozen=True)
class ProviderButton:
    """A "Continue with" button of a login page."""

    key: str
    name: str


class ClientSecrets:
    """Ostiary's client secret at each upstream, encrypted at rest and bound to the row."""

    def __init__(self, settings: Settings) -> None:
        self.box = SecretBox(settings.effective_secret_key, info=_SECRET_INFO)

    def seal(self, provider_id: uuid.UUID, secret: str) -> str:
        return self.box.encrypt(secret.encode(), context=str(provider_id))

    def open(self, provider: IdentityProvider) -> str:
        return self.box.decrypt(provider.client_secret, context=str(provider.id)).decode()


class IdentityProviderService:
    def __init__(self, session: OstiarySession, actor: Actor, settings: Settings) -> None:
        self.session = session
        self.actor = actor
        self.audit = AuditLog(session)
        self.secrets = ClientSecrets(settings)
        self.domains = DomainService(session, actor)

    def list(self, *, enabled_only: bool = False) -> Sequence[IdentityProvider]:
        stmt = select(IdentityProvider).order_by(IdentityProvider.name, IdentityProvider.key)
        if enabled_only:
            stmt = stmt.where(IdentityProvider.enabled.is_(True))
        return self.session.scalars(stmt).all()

    def buttons(self) -> tuple[ProviderButton, ...]:
        """The enabled providers as login pages offer them; kept while none changed."""
        return self.session.kept(
            "ostiary.federation.buttons",
            "enabled",
            (TABLE_TOPICS["identity_providers"],),
            lambda: tuple(ProviderButton(p.key, p.name) for p in self.list(enabled_only=True)),
        )

    def find(self, key: str) -> IdentityProvider | None:
        stmt = select(IdentityProvider).where(IdentityProvider.key == key)
        return self.session.scalars(stmt).one_or_none()

    def get(self, key: str) -> IdentityProvider:
        provider = self.find(key)
        if provider is None:
            raise NotFound(Text("no identity provider with key '{key}'", key=key), field="key")
        return provider

    def for_email(self, email: str) -> IdentityProvider | None:
        """The enabled provider whose e-mail domains hold this address's (home-realm discovery)."""
        _, at, domain = email.strip().lower().rpartition("@")
        if not at or not domain:
            return None
        for provider in self.list(enabled_only=True):
            if domain in provider.email_domains:
                return provider
        return None

    def domain_of(self, provider: IdentityProvider) -> UserDomain:
        domain = self.session.get(UserDomain, provider.domain_id)
        assert domain is not None  # a foreign key
        return domain

    def view(self, provider: IdentityProvider) -> IdentityProviderOut:
        return IdentityProviderOut(
            id=provider.id,
            key=provider.key,
            name=provider.name,
            issuer=provider.issuer,
            client_id=provider.client_id,
            scopes=list(provider.scopes),
            domain=self.domain_of(provider).name,
            email_domains=list(provider.email_domains),
            roles_claim=provider.roles_claim,
            enabled=provider.enabled,
            created_at=provider.created_at,
            updated_at=provider.updated_at,
        )

    def create(self, data: IdentityProviderCreate) -> IdentityProvider:
        if self.find(data.key) is not None:
            raise AlreadyExists(
                Text("an identity provider with key '{key}' exists", key=data.key), field="key"
            )
        domain = self._delegated_domain(data.domain)
        self._check_email_domains(data.email_domains, None)
        with self.session.atomic():
            provider_id = uuid7()
            provider = IdentityProvider(
                id=provider_id,
                key=data.key,
                name=data.name,
                issuer=data.issuer,
                client_id=data.client_id,
                client_secret=self.secrets.seal(provider_id, data.client_secret.get_secret_value()),
                scopes=list(data.scopes),
                domain_id=domain.id,
                email_domains=list(data.email_domains),
                roles_claim=data.roles_claim,
                enabled=data.enabled,
            )
            self.session.add(provider)
            self.session.flush()
            shown = data.model_dump(mode="json", exclude={"client_secret"})
            self._record("identity_provider.created", provider, shown)
        return provider

    def update(self, provider: IdentityProvider, data: IdentityProviderUpdate) -> IdentityProvider:
        self.change(provider, data)
        return provider

    def change(self, provider: IdentityProvider, data: IdentityProviderUpdate) -> bool:
        """Whether anything changed (nothing is written otherwise)."""
        given = data.model_fields_set
        for name in given - {"roles_claim"}:
            if getattr(data, name) is None:
                raise RuleViolation(Text("{name} cannot be empty", name=name), field=name)
        domain = self._delegated_domain(data.domain) if data.domain is not None else None
        if data.email_domains is not None:
            self._check_email_domains(data.email_domains, provider)
        changes: dict[str, object] = {}
        with self.session.atomic():
            for name in _PLAIN_FIELDS:
                new = getattr(data, name)
                if name in given and getattr(provider, name) != new:
                    changes[name] = [getattr(provider, name), new]
                    setattr(provider, name, new)
            for name in ("scopes", "email_domains"):
                new_list = getattr(data, name)
                if new_list is not None and list(getattr(provider, name)) != new_list:
                    changes[name] = [list(getattr(provider, name)), new_list]
                    setattr(provider, name, list(new_list))
            if domain is not None and domain.id != provider.domain_id:
                changes["domain"] = [self.domain_of(provider).name, domain.name]
                provider.domain_id = domain.id
            if data.client_secret is not None:
                secret = data.client_secret.get_secret_value()
                if secret != self.secrets.open(provider):
                    provider.client_secret = self.secrets.seal(provider.id, secret)
                    changes["client_secret"] = "replaced"
            if changes:
                self._record("identity_provider.updated", provider, changes)
        return bool(changes)

    def delete(self, provider: IdentityProvider) -> None:
        """Its users stay; their external identities no longer sign anyone in."""
        with self.session.atomic():
            self._record("identity_provider.deleted", provider, {"key": provider.key})
            self.session.delete(provider)

    # -- helpers --------------------------------------------------------------------------

    def _delegated_domain(self, name: str) -> UserDomain:
        domain = self.domains.get(name, field="domain")
        if domain.kind != DomainKind.DELEGATED:
            # A local domain's users have passwords here; a provider's are authenticated there.
            raise RuleViolation(
                Text(
                    "user domain '{name}' is {kind}: a provider's users belong to a delegated domain",
                    name=name,
                    kind=domain.kind,
                ),
                field="domain",
            )
        return domain

    def _check_email_domains(self, domains: list[str], provider: IdentityProvider | None) -> None:
        """Home-realm discovery sends an address to one provider only."""
        wanted = set(domains)
        for other in self.list():
            if provider is not None and other.id == provider.id:
                continue
            taken = wanted & set(other.email_domains)
            if taken:
                raise AlreadyExists(
                    Text(
                        "e-mail domain '{taken}' belongs to identity provider '{key}'",
                        taken=sorted(taken)[0],
                        key=other.key,
                    ),
                    field="email_domains",
                )

    def _record(self, action: str, provider: IdentityProvider, changes: dict[str, object]) -> None:
        self.audit.record(
            self.actor,
            action,
            target_type="identity_provider",
            target_id=provider.id,
            changes=changes,
        )
