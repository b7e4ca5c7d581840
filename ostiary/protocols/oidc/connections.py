"""The applications a user has let in: clients holding live grants of theirs (and so refresh
or access tokens), as the account page lists them, and the user taking one back.

Revoking an application revokes every grant of the user to that client: its refresh tokens
are refused at the token endpoint and its access tokens are inactive at introspection.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.sessions import SessionService
from ostiary.clients.models import Client
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.protocols.oidc.models import Grant
from ostiary.protocols.oidc.tokens import grant_alive
from ostiary.users.models import User


@dataclass
class Connection:
    """One application with what the user's live grants to it allow."""

    client: Client
    since: datetime
    scopes: list[str] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)
    grants: int = 0


class ConnectedApplications:
    def __init__(self, session: OstiarySession, sessions: SessionService) -> None:
        self.session = session
        self.sessions = sessions

    def _live(self, user: User, client_id: uuid.UUID | None = None) -> list[Grant]:
        where = (
            (Grant.user_id == user.id) & Grant.revoked_at.is_(None) & (Grant.expires_at > utcnow())
        )
        if client_id is not None:
            where &= Grant.client_id == client_id
        found = self.session.scalars(select(Grant).where(where).order_by(Grant.created_at)).all()
        return [g for g in found if grant_alive(self.session, self.sessions, g)]

    def of(self, user: User) -> list[Connection]:
        """The clients with live grants of ``user``, by name."""
        connections: dict[uuid.UUID, Connection] = {}
        for grant in self._live(user):
            client = self.session.get(Client, grant.client_id)
            if client is None:
                continue
            found = connections.setdefault(client.id, Connection(client, grant.created_at))
            found.since = min(found.since, grant.created_at)
            found.grants += 1
            for scope in grant.scope.split():
                if scope not in found.scopes:
                    found.scopes.append(scope)
            context = self.session.get(Context, grant.context_id) if grant.context_id else None
            if context is not None and context.name not in found.contexts:
                found.contexts.append(context.name)
        return sorted(connections.values(), key=lambda c: (c.client.name.casefold(), c.client.id))

    def revoke(self, user: User, client_id: uuid.UUID, actor: Actor) -> int:
        """Revoke every live grant of ``user`` to the client; returns how many (0: none was
        there, or the client is not one of the user's applications)."""
        with self.session.atomic():
            grants = self._live(user, client_id)
            now = utcnow()
            audit = AuditLog(self.session)
            for grant in grants:
                grant.revoked_at = now
                grant.revoked_reason = "revoked by the user"
                audit.record(
                    actor,
                    "oauth.grant_revoked",
                    target_type="grant",
                    target_id=grant.id,
                    context_id=grant.context_id,
                    changes={"reason": "revoked by the user", "user_id": str(user.id)},
                )
        return len(grants)
