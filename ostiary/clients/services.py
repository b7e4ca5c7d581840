"""Registering clients and their secrets.

Secrets are made here (``ostiary.clients.secrets``), handed back once and stored as a digest;
no audit event ever holds a secret or its digest.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from ostiary.access.models import Module
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.clients.models import BUILT_IN_CLIENTS, Client
from ostiary.clients.schemas import (
    SETTINGS_FIELDS,
    ClientCreate,
    ClientSpec,
    ClientUpdate,
    GrantType,
    merged_spec,
    problems_of,
    uses_secret,
)
from ostiary.clients.secrets import generate_secret, hash_secret, secret_problems, verify_secret
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.errors import AlreadyExists, InvalidInput, NotFound, RuleViolation
from ostiary.text import Text
from ostiary.users.models import User
from ostiary.users.service_accounts import ServiceAccounts

# Spec fields that the API names otherwise.
API_NAMES = {"module_id": "module"}


@dataclass(frozen=True)
class Issued:
    """A client as just written, with the secret made for it, if one was (shown only now)."""

    client: Client
    secret: str | None = None


def stored_settings(client: Client) -> dict[str, Any]:
    """The stored registration, in the fields of ``ClientSpec`` but its client_id."""
    return {
        field: getattr(client, field) for field in (*SETTINGS_FIELDS, "module_id", "context_id")
    }


def has_service_account(client: Client) -> bool:
    """Whether the client acts as its own user: a confidential client allowed
    client_credentials."""
    return not client.public and GrantType.CLIENT_CREDENTIALS in client.grant_types


def new_client_id() -> str:
    return str(uuid.uuid4())


class ClientService:
    def __init__(self, session: OstiarySession, actor: Actor, passwords: object = None) -> None:
        # ``passwords`` is no longer used (secrets are not argon2 hashes any more); it is
        # accepted so that callers written before keep working.
        self.session = session
        self.actor = actor
        self.audit = AuditLog(session)

    # -- reading --------------------------------------------------------------------------

    def find(self, client_id: str) -> Client | None:
        return self.session.scalars(
            select(Client).where(Client.client_id == client_id)
        ).one_or_none()

    def get(self, client_id: str) -> Client:
        client = self.find(client_id)
        if client is None:
            raise NotFound(
                Text("no client with client_id '{client_id}'", client_id=client_id),
                field="client_id",
            )
        return client

    def registered(self, client_id: str) -> Client:
        """A registered application: as ``get``, but Ostiary's own clients, which it keeps
        itself and which ``list`` leaves out, are not among them."""
        if client_id in BUILT_IN_CLIENTS:
            raise NotFound(
                Text("no client with client_id '{client_id}'", client_id=client_id),
                field="client_id",
            )
        return self.get(client_id)

    def list(self) -> Sequence[Client]:
        """The registered applications; not the console's own client, which Ostiary keeps."""
        return self.session.scalars(
            select(Client)
            .where(Client.client_id.not_in(BUILT_IN_CLIENTS))
            .order_by(Client.client_id)
        ).all()

    def module_key(self, client: Client) -> str | None:
        """The key of the module the client serves, to show it by."""
        module = self.session.get(Module, client.module_id) if client.module_id else None
        return module.key if module else None

    # -- the admin API --------------------------------------------------------------------

    def create(self, data: ClientCreate) -> Issued:
        """Register a client; one that authenticates with a secret gets a new one."""
        client_id = data.client_id or new_client_id()
        if self.find(client_id) is not None:
            raise AlreadyExists(
                Text("a client with client_id '{client_id}' exists", client_id=client_id),
                field="client_id",
            )
        given = data.model_dump(exclude={"client_id", "module"})
        given["module_id"] = self._module_id(data.module)
        self._check_context(data.context_id)
        spec = self._spec(client_id, None, given)
        with self.session.atomic():
            client, _ = self.put(spec)
            secret = self._issue_secret(client, "client.secret_issued")
        return Issued(client, secret)

    def update(self, client: Client, data: ClientUpdate) -> Issued:
        """Change the fields given; a client that now needs a secret and has none gets one."""
        given = data.model_dump(exclude_unset=True, exclude={"module"})
        if "module" in data.model_fields_set:
            given["module_id"] = self._module_id(data.module)
        self._check_context(given.get("context_id"))
        spec = self._spec(client.client_id, stored_settings(client), given)
        with self.session.atomic():
            client, _ = self.put(spec)
            secret = self._issue_secret(client, "client.secret_issued")
        return Issued(client, secret)

    def rotate_secret(self, client: Client) -> str:
        """A new secret in place of the old one, which stops working at once."""
        if not uses_secret(client.token_endpoint_auth_method):
            raise RuleViolation(
                Text(
                    "the client authenticates with {token_endpoint_auth_method} and has no secret",
                    token_endpoint_auth_method=client.token_endpoint_auth_method,
                ),
                field="token_endpoint_auth_method",
            )
        with self.session.atomic():
            secret = generate_secret()
            self._store_hash(client, hash_secret(secret), "client.secret_rotated")
        return secret

    def delete(self, client: Client) -> None:
        """Remove the client; its grants, codes and refresh tokens go with it, and its service
        account is deleted (the row stays, anonymized, for the audit trail)."""
        with self.session.atomic():
            self.audit.record(
                self.actor,
                "client.deleted",
                target_type="client",
                target_id=client.id,
                changes={"client_id": client.client_id},
            )
            account = self.service_account(client)
            client.service_account_user_id = None
            self.session.flush()
            if account is not None:
                ServiceAccounts(self.session, self.actor).delete(account)
            self.session.delete(client)

    # -- service accounts -----------------------------------------------------------------

    def service_account(self, client: Client) -> User | None:
        """The user the client's client_credentials tokens act as, if it has one."""
        if client.service_account_user_id is None:
            return None
        return self.session.get(User, client.service_account_user_id)

    def _ensure_service_account(self, client: Client) -> bool:
        """Give a confidential client allowed client_credentials its service account, once;
        True when one was made. A client that loses the grant keeps its account (and the
        account's memberships), unused until the grant comes back."""
        if not has_service_account(client) or client.service_account_user_id is not None:
            return False
        account = ServiceAccounts(self.session, self.actor).create(client.client_id)
        client.service_account_user_id = account.id
        return True

    def _spec(
        self, client_id: str, stored: Mapping[str, Any] | None, given: Mapping[str, Any]
    ) -> ClientSpec:
        try:
            return merged_spec(client_id, stored, given)
        except ValidationError as exc:
            raise InvalidInput(problems_of(exc, API_NAMES)) from None

    def _module_id(self, key: str | None) -> uuid.UUID | None:
        if key is None:
            return None
        module_id = self.session.scalar(select(Module.id).where(Module.key == key))
        if module_id is None:
            raise RuleViolation(Text("no module with key '{key}'", key=key), field="module")
        return module_id

    def _check_context(self, context_id: uuid.UUID | None) -> None:
        if context_id is not None and self.session.get(Context, context_id) is None:
            raise RuleViolation(
                Text("no context with id '{context_id}'", context_id=context_id), field="context_id"
            )

    def _issue_secret(self, client: Client, action: str) -> str | None:
        """A new secret for a client that needs one and has none."""
        if client.secret_hash is not None or not uses_secret(client.token_endpoint_auth_method):
            return None
        secret = generate_secret()
        self._store_hash(client, hash_secret(secret), action)
        return secret

    # -- the provisioning file ------------------------------------------------------------

    def put(self, spec: ClientSpec) -> tuple[Client, str]:
        """Create the client or bring it to ``spec``; its secret is kept unless its method
        has no use for one.

        Returns the client and "created", "updated" or "unchanged".
        """
        with self.session.atomic():
            client = self.find(spec.client_id)
            created = client is None
            if client is None:
                client = Client(client_id=spec.client_id)
                self.session.add(client)
            changed = self._differences(client, spec)
            for field, new in changed.items():
                setattr(client, field, new)
            changes: dict[str, Any] = spec.model_dump(mode="json", include=set(changed))
            if not uses_secret(spec.auth_method) and client.secret_hash is not None:
                client.secret_hash = None
                changes["secret"] = "removed"
            self.session.flush()
            if self._ensure_service_account(client):
                changes["service_account_user_id"] = str(client.service_account_user_id)
            if not changes and not created:
                return client, "unchanged"
            self.audit.record(
                self.actor,
                "client.created" if created else "client.updated",
                target_type="client",
                target_id=client.id,
                changes={"client_id": client.client_id, **changes},
            )
            return client, "created" if created else "updated"

    def secret_matches(self, client: Client, secret: str) -> bool:
        return verify_secret(client.secret_hash, secret)

    def set_secret(self, client: Client, secret: str) -> None:
        """Store a secret chosen elsewhere (a provisioning file), long enough not to guess."""
        problems = secret_problems(secret, field="client_secret")
        if problems:
            raise InvalidInput(problems)
        self.set_secret_hash(client, hash_secret(secret))

    def set_secret_hash(self, client: Client, secret_hash: str) -> None:
        """Store a secret's hash, made here or by another Ostiary (a move between servers)."""
        if not uses_secret(client.token_endpoint_auth_method):
            raise RuleViolation(
                Text(
                    "a client authenticating with {token_endpoint_auth_method} has no secret",
                    token_endpoint_auth_method=client.token_endpoint_auth_method,
                ),
                field="client_secret",
            )
        with self.session.atomic():
            self._store_hash(client, secret_hash, "client.secret_set")

    def _store_hash(self, client: Client, secret_hash: str, action: str) -> None:
        client.secret_hash = secret_hash
        self.audit.record(
            self.actor,
            action,
            target_type="client",
            target_id=client.id,
            changes={"client_id": client.client_id, "client_secret": "set"},
        )

    @staticmethod
    def _differences(client: Client, spec: ClientSpec) -> dict[str, Any]:
        """The fields whose stored values differ from ``spec``, with the values to store."""
        found: dict[str, Any] = {}
        for field, new in spec.model_dump(exclude={"client_id"}).items():
            stored = [str(item) for item in new] if isinstance(new, list) else new
            if isinstance(stored, str):
                stored = str(stored)  # an enum member is stored as its plain value
            if getattr(client, field) != stored:
                found[field] = stored
        return found
