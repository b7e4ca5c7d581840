"""Registering clients and their secrets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.passwords import Passwords
from ostiary.clients.models import Client
from ostiary.clients.schemas import ClientSpec
from ostiary.db.session import OstiarySession
from ostiary.errors import InvalidInput, RuleViolation


class ClientService:
    def __init__(self, session: OstiarySession, actor: Actor, passwords: Passwords) -> None:
        self.session = session
        self.actor = actor
        self.passwords = passwords
        self.audit = AuditLog(session)

    def find(self, client_id: str) -> Client | None:
        return self.session.scalars(
            select(Client).where(Client.client_id == client_id)
        ).one_or_none()

    def put(self, spec: ClientSpec) -> tuple[Client, str]:
        """Create the client or bring it to ``spec``; its secret is kept unless it turns public.

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
            if spec.public and client.secret_hash is not None:
                client.secret_hash = None
                changes["secret"] = "removed"
            if not changes and not created:
                return client, "unchanged"
            self.session.flush()
            self.audit.record(
                self.actor,
                "client.created" if created else "client.updated",
                target_type="client",
                target_id=client.id,
                changes={"client_id": client.client_id, **changes},
            )
            return client, "created" if created else "updated"

    def secret_matches(self, client: Client, secret: str) -> bool:
        return self.passwords.verify(client.secret_hash, secret)

    def set_secret(self, client: Client, secret: str) -> None:
        problems = self.passwords.problems(secret, field="client_secret")
        if problems:
            raise InvalidInput(problems)
        self.set_secret_hash(client, self.passwords.hash(secret))

    def set_secret_hash(self, client: Client, secret_hash: str) -> None:
        """Store a secret's hash, made here or by another Ostiary (a move between servers)."""
        if client.public:
            raise RuleViolation("a public client has no secret", field="client_secret")
        with self.session.atomic():
            client.secret_hash = secret_hash
            self.audit.record(
                self.actor,
                "client.secret_set",
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
            if getattr(client, field) != stored:
                found[field] = stored
        return found
