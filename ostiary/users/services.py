"""Creating and changing users, their passwords and their lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete

from ostiary.access.models import GroupMember, UserRight
from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.models import OneTimeToken
from ostiary.authn.passwords import Passwords
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.errors import InvalidInput, InvalidTransition, NotFound, RuleViolation
from ostiary.text import Text
from ostiary.users.domains import DomainService
from ostiary.users.lifecycle import LifecycleAction, next_status
from ostiary.users.memberships import MembershipService
from ostiary.users.models import (
    ContactVerification,
    DomainKind,
    TwoFactor,
    User,
    UserDomain,
    UserStatus,
)
from ostiary.users.schemas import DELETED_PREFIX, UserCreate, UserUpdate

AUDIT_ACTIONS = {
    LifecycleAction.ACTIVATE: "user.activated",
    LifecycleAction.DEACTIVATE: "user.deactivated",
    LifecycleAction.DELETE: "user.deleted",
    LifecycleAction.DISCARD: "user.discarded",
}

# What a service account cannot have or change: it never signs in, so it has no credentials
# and nothing to send codes or links to.
SERVICE_ACCOUNT_FIXED = frozenset({"username", "email", "email_verified", "phone", "two_factor"})

# Fields that identify a person: erased when the user is deleted, also from the audit trail.
PERSONAL_FIELDS = frozenset({"username", "email", "phone", "first_name", "last_name", "language"})


def _key(value: str | None) -> str | None:
    return value.casefold() if value else None


_KEYED = (("email", "email_key"), ("first_name", "first_name_key"), ("last_name", "last_name_key"))


def profile_columns(values: Mapping[str, Any]) -> dict[str, Any]:
    """Profile fields as stored: each with its lower-cased key beside it, where it has one."""
    columns = dict(values)
    for field, key in _KEYED:
        if field in values:
            columns[key] = _key(values[field])
    return columns


class UserService:
    def __init__(self, session: OstiarySession, actor: Actor, passwords: Passwords) -> None:
        self.session = session
        self.actor = actor
        self.passwords = passwords
        self.audit = AuditLog(session)
        self.domains = DomainService(session, actor)

    def get(self, user_id: uuid.UUID) -> User:
        user = self.session.get(User, user_id)
        if user is None:
            raise NotFound(Text("no user with id '{user_id}'", user_id=user_id), field="id")
        return user

    def create(
        self,
        data: UserCreate,
        *,
        contexts: Sequence[Context] = (),
        password_hash: str | None = None,
    ) -> User:
        with self.session.atomic():
            domain = self.domains.get(data.domain, field="domain")
            password = data.password.get_secret_value() if data.password else None
            self._check_credentials(
                domain, data.username, password, password_hash, email=data.email
            )
            user = User(
                username=data.username,
                domain=domain,
                status=data.status,
                two_factor=data.two_factor,
                password_hash=password_hash
                or (self.passwords.hash(password) if password else None),
            )
            self._set_profile(user, data.model_dump(include=PERSONAL_FIELDS - {"username"}))
            user.email_verified = data.email_verified and user.email is not None
            self.session.add(user)
            self.session.flush()
            self.audit.record(
                self.actor,
                "user.created",
                target_type="user",
                target_id=user.id,
                changes=data.model_dump(
                    mode="json",
                    exclude_none=True,
                    exclude={"password", "context_ids", "email_verified"},
                )
                | ({"email_verified": True} if user.email_verified else {})
                | ({"password": "set"} if user.password_hash else {}),
            )
            memberships = MembershipService(self.session, self.actor)
            for context in contexts:
                memberships.add(user, context)
        return user

    def update(self, user: User, data: UserUpdate) -> User:
        self._refuse_if_deleted(user)
        fields = data.model_fields_set
        self._refuse_for_service_account(user, fields & SERVICE_ACCOUNT_FIXED)
        self._refuse_if_delegated(user, fields - {"domain"})
        changes: dict[str, Any] = {}
        with self.session.atomic():
            if "domain" in fields:
                if data.domain is None:
                    raise RuleViolation("domain cannot be empty", field="domain")
                domain = self.domains.get(data.domain, field="domain")
                if domain.id != user.domain_id:
                    self._check_domain_fits(user, domain)
                    changes["domain"] = [user.domain.name, domain.name]
                    user.domain = domain
            for field in ("username", "two_factor"):
                if field in fields:
                    new = getattr(data, field)
                    if new is None:
                        raise RuleViolation(Text("{name} cannot be empty", name=field), field=field)
                    if getattr(user, field) != new:
                        changes[field] = [getattr(user, field), str(new)]
                        setattr(user, field, new)
            profile = data.model_dump(include=fields & (PERSONAL_FIELDS - {"username"}))
            for field, new in profile.items():
                if getattr(user, field) != new:
                    changes[field] = [getattr(user, field), new]
            self._set_profile(user, profile)
            self._set_verified(user, data, changes)
            if changes:
                self.audit.record(
                    self.actor,
                    "user.updated",
                    target_type="user",
                    target_id=user.id,
                    changes=changes,
                )
        return user

    def set_password(self, user: User, password: str) -> None:
        self._refuse_if_deleted(user)
        self._refuse_for_service_account(user, {"password"})
        self._refuse_if_delegated(user, {"password"})
        self._check_credentials(user.domain, user.username, password, None, email=user.email)
        self.set_password_hash(user, self.passwords.hash(password))

    def set_password_hash(self, user: User, password_hash: str) -> None:
        """Store a password's hash, made here or by another Ostiary (a move between servers)."""
        self._refuse_if_deleted(user)
        self._refuse_for_service_account(user, {"password"})
        with self.session.atomic():
            self._check_credentials(user.domain, user.username, None, password_hash)
            user.password_hash = password_hash
            user.security_stamp = uuid.uuid4()
            self.audit.record(
                self.actor,
                "user.password_set",
                target_type="user",
                target_id=user.id,
                changes={"password": "set"},
            )

    def act(self, user: User, action: LifecycleAction) -> User | None:
        """Apply a lifecycle action; returns None when the user was discarded."""
        new_status = next_status(UserStatus(user.status), action)
        if user.service_account and new_status in (None, UserStatus.DELETED):
            raise RuleViolation(
                "a service account is deleted with its client; deactivate it to stop the "
                "client's client_credentials tokens",
                field="status",
            )
        with self.session.atomic():
            if new_status is None:
                self.audit.record(
                    self.actor,
                    AUDIT_ACTIONS[action],
                    target_type="user",
                    target_id=user.id,
                    changes={"status": [user.status, None]},
                )
                self.session.delete(user)
                return None
            old_status = user.status
            erased = self._anonymize(user) if new_status is UserStatus.DELETED else {}
            user.status = new_status
            if new_status is not UserStatus.ACTIVE:
                user.security_stamp = uuid.uuid4()
            self.audit.record(
                self.actor,
                AUDIT_ACTIONS[action],
                target_type="user",
                target_id=user.id,
                changes={"status": [old_status, new_status]}
                | ({"erased": erased} if erased else {}),
            )
        return user

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _set_verified(user: User, data: UserUpdate, changes: dict[str, Any]) -> None:
        """As said, for the address the user has now; a new address said nothing of is not
        verified."""
        fields = data.model_fields_set
        if "email_verified" in fields:
            if data.email_verified is None:
                raise RuleViolation("email_verified cannot be empty", field="email_verified")
            verified = data.email_verified
        elif "email" in changes:
            verified = False
        else:
            return
        verified = verified and user.email is not None
        if verified != user.email_verified:
            changes["email_verified"] = [user.email_verified, verified]
            user.email_verified = verified

    def _anonymize(self, user: User) -> dict[str, int]:
        return anonymize(self.session, self.audit, user)

    @staticmethod
    def _set_profile(user: User, values: dict[str, Any]) -> None:
        for field, value in profile_columns(values).items():
            setattr(user, field, value)

    def _check_credentials(
        self,
        domain: UserDomain,
        username: str,
        password: str | None,
        password_hash: str | None,
        *,
        email: str | None = None,
    ) -> None:
        if domain.kind == DomainKind.DELEGATED and (password or password_hash):
            raise RuleViolation(
                Text(
                    "users of the delegated domain {name} sign in at their identity provider and have no password here",
                    name=domain.name,
                ),
                field="password",
            )
        if password is not None:
            problems = self.passwords.problems(
                password, field="password", username=username, email=email
            )
            if problems:
                raise InvalidInput(problems)

    def _check_domain_fits(self, user: User, domain: UserDomain) -> None:
        for membership in user.memberships:
            context = self.session.get(Context, membership.context_id)
            if context is not None and context.type not in domain.context_types:
                raise RuleViolation(
                    Text(
                        "users of {name} cannot belong to {type} contexts, and this user belongs to '{key}'",
                        name=domain.name,
                        type=context.type,
                        key=context.key,
                    ),
                    field="domain",
                )
        if domain.kind == DomainKind.DELEGATED and user.password_hash:
            user.password_hash = None

    @staticmethod
    def _refuse_if_delegated(user: User, fields: set[str]) -> None:
        if fields and user.domain.kind == DomainKind.DELEGATED:
            raise RuleViolation(
                Text(
                    "users of the delegated domain {name} are managed by their identity provider and are read-only here",
                    name=user.domain.name,
                ),
                field=sorted(fields)[0],
            )

    @staticmethod
    def _refuse_for_service_account(user: User, fields: set[str]) -> None:
        if fields and user.service_account:
            raise RuleViolation(
                "a service account never signs in: it has no password, e-mail, phone or second "
                "factor, and its username is its client's",
                field=sorted(fields)[0],
            )

    @staticmethod
    def _refuse_if_deleted(user: User) -> None:
        if user.status == UserStatus.DELETED:
            raise InvalidTransition("a deleted user cannot be changed", field="status")


def anonymize(session: OstiarySession, audit: AuditLog, user: User) -> dict[str, int]:
    """Erase a user's personal data for good, also from the audit trail and from the
    invitations and registrations that kept it; the row stays. How many of those were erased,
    by kind (none: empty)."""
    former_username = user.username
    former_email_key = user.email_key
    former_email = user.email
    user.username = f"{DELETED_PREFIX}{user.id.hex}"
    UserService._set_profile(user, dict.fromkeys(PERSONAL_FIELDS - {"username"}))
    user.email_verified = False
    user.password_hash = None
    user.two_factor = TwoFactor.INHERIT
    user.first_login_at = None
    user.last_login_at = None
    user.deleted_at = utcnow()
    user.memberships.clear()
    user.external_identities.clear()
    session.execute(delete(GroupMember).where(GroupMember.user_id == user.id))
    session.execute(delete(UserRight).where(UserRight.user_id == user.id))
    session.execute(delete(ContactVerification).where(ContactVerification.user_id == user.id))
    session.execute(delete(OneTimeToken).where(OneTimeToken.user_id == user.id))
    from ostiary.authn.factors.services import forget_factors

    forget_factors(session, user.id)
    from ostiary.messages.services import forget_person

    forget_person(session, user.id)
    # The types whose objects keep a person's data register that with their renderers.
    import ostiary.invitations.schemas
    import ostiary.registrations.schemas  # noqa: F401
    from ostiary.invitations.erasure import forget_person as forget_in_invitations
    from ostiary.registrations.erasure import forget_person as forget_in_registrations
    from ostiary.webhooks.services import forget_person as forget_in_webhooks

    # The events first: they find what carries the person by the address it still keeps.
    forget_in_webhooks(session, user.id, user.username, former_email_key)
    carriers = {
        # A service account's invitations name its client, which is no one's personal data.
        "invitation": [
            str(i)
            for i in forget_in_invitations(
                session, user.id, former_email_key, None if user.service_account else user.username
            )
        ],
        "registration": [
            str(r)
            for r in forget_in_registrations(session, user.id, former_email_key, user.username)
        ],
    }
    audit.forget_person(
        user.id,
        personal_fields=PERSONAL_FIELDS,
        former_labels={label for label in (former_username, former_email) if label},
        new_label=user.username,
        carriers=carriers,
    )
    return {f"{kind}s": len(ids) for kind, ids in carriers.items() if ids}
