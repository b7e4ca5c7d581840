"""Service accounts: the users that confidential clients act as with client_credentials tokens.

A service account is a user like any other for the access model: it belongs to contexts, is a
member of groups, and its effective rights decide what it may do at the admin API. It differs in
that it never signs in itself: it has no password, e-mail or phone, cannot use the login page or
HTTP Basic, and is made and deleted with its client (``ostiary.clients.services``). Its username
is ``service-account-`` and the client id, a prefix nobody else's username may start with.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db.session import OstiarySession
from ostiary.errors import RuleViolation
from ostiary.text import Text
from ostiary.users.models import User, UserDomain, UserStatus
from ostiary.users.schemas import SERVICE_ACCOUNT_PREFIX
from ostiary.users.services import anonymize

# The domain service accounts are made in: its users may belong to contexts of every type.
SERVICE_ACCOUNT_DOMAIN = "CSP"
_NOT_IN_USERNAMES = re.compile(r"[^a-z0-9._@+-]")


def service_account_username(client_id: str) -> str:
    """``service-account-<client id>``, in the characters usernames allow (client ids are
    case-sensitive and may hold ``~``; usernames are neither)."""
    return SERVICE_ACCOUNT_PREFIX + _NOT_IN_USERNAMES.sub("-", client_id.lower())


class ServiceAccounts:
    def __init__(self, session: OstiarySession, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.audit = AuditLog(session)

    def create(self, client_id: str) -> User:
        """A new, active service account for the client, without memberships: nobody can reach
        it at the admin API but callers at the root, until they make it a member somewhere."""
        with self.session.atomic():
            domain = self._domain()
            user = User(
                username=self._free_username(service_account_username(client_id)),
                domain=domain,
                status=UserStatus.ACTIVE,
                service_account=True,
            )
            self.session.add(user)
            self.session.flush()
            self.audit.record(
                self.actor,
                "user.created",
                target_type="user",
                target_id=user.id,
                changes={
                    "username": user.username,
                    "domain": domain.name,
                    "status": UserStatus.ACTIVE,
                    "service_account": True,
                    "client_id": client_id,
                },
            )
        return user

    def delete(self, user: User) -> None:
        """Delete the service account with its client: anonymized like any deleted user, so
        that the audit trail keeps its id."""
        if not user.service_account or user.status == UserStatus.DELETED:
            return
        with self.session.atomic():
            old_status = user.status
            anonymize(self.session, self.audit, user)
            user.status = UserStatus.DELETED
            user.security_stamp = uuid.uuid4()
            self.audit.record(
                self.actor,
                "user.deleted",
                target_type="user",
                target_id=user.id,
                changes={"status": [old_status, UserStatus.DELETED], "service_account": True},
            )

    def _domain(self) -> UserDomain:
        domain = self.session.scalars(
            select(UserDomain).where(UserDomain.name == SERVICE_ACCOUNT_DOMAIN)
        ).one_or_none()
        if domain is None:
            raise RuleViolation(
                Text(
                    "service accounts are made in the user domain {service_account_domain}, which does not exist",
                    service_account_domain=SERVICE_ACCOUNT_DOMAIN,
                ),
                field="grant_types",
            )
        return domain

    def _free_username(self, wanted: str) -> str:
        """``wanted``, or with a suffix when another client's account has it (client ids that
        differ only in case or in ``~``)."""
        username = wanted
        while self.session.scalar(select(User.id).where(User.username == username)) is not None:
            username = f"{wanted}-{uuid.uuid4().hex[:8]}"
        return username
