"""A user's own profile: names and language at once, a new e-mail address or phone number only
once it is verified (``ostiary.users.verification``).

A change that takes effect is one transaction with its audit event, ``user.updated`` with the
field in ``changes`` as an administrator's change records it, so that subscribers see one kind
of event. Sessions and tokens live on: an address or number is where codes and notices go, not
a credential, and the user proved it was them (a recent sign-in, then the code); the former
address is told instead, so that a change the user did not make does not go unnoticed.

Users of a delegated domain keep their data at their identity provider: here it is read-only.
Service accounts have no self-service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.factors.codes import Verdict, mask, sms_allowed
from ostiary.authn.throttle import Throttled
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.errors import AlreadyExists, Forbidden, OstiaryError, RuleViolation
from ostiary.messages.purposes import Channel
from ostiary.messages.services import Messages
from ostiary.runtime import Runtime
from ostiary.users.models import ContactField, ContactVerification, DomainKind, User, UserStatus
from ostiary.users.schemas import PendingChangeOut, ProfileOut, ProfileUpdate, UserUpdate
from ostiary.users.services import UserService
from ostiary.users.verification import CHANNELS, ContactVerifications

log = logging.getLogger(__name__)

PURPOSES = {ContactField.EMAIL: "email-verification", ContactField.PHONE: "phone-verification"}
DELEGATED = "your profile comes from your organization's identity provider: change it there"
TAKEN = "this e-mail address cannot be used: it belongs to another account"
SAME = {
    ContactField.EMAIL: "this is your e-mail address already",
    ContactField.PHONE: "this is your phone number already",
}
SMS_REFUSED = "codes are not sent by SMS to this number here: use another number"
CANNOT_SEND = {
    ContactField.EMAIL: "this server cannot send e-mail now",
    ContactField.PHONE: "this server cannot send SMS now",
}
REASONS = {
    Verdict.WRONG: "the code is not correct",
    Verdict.EXPIRED: "the code has expired: ask for a new one",
    Verdict.SPENT: "this code took all its tries or was used: ask for a new one",
    Verdict.NO_CODE: "no change is waiting for verification: ask for a code first",
}


class VerificationFailed(OstiaryError):
    kind = "verification-failed"
    status = 422
    title = "The code was not accepted"

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(REASONS.get(verdict, "the code was not accepted"), field="code")
        self.verdict = verdict


class TooManyTries(Throttled):
    """The user entered too many wrong codes lately: the code was not even compared."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            retry_after, f"too many wrong codes lately: try again in {retry_after} seconds"
        )
        self.field = "code"

    def extensions(self) -> dict[str, object]:
        return {"field": "code", **super().extensions()}


@dataclass(frozen=True)
class Requested:
    field: ContactField
    value: str
    expires_at: datetime


def refuse_service_account(user: User) -> None:
    if user.service_account:
        raise Forbidden("a service account has no self-service")


def refuse_if_delegated(user: User, field: str) -> None:
    if user.domain.kind == DomainKind.DELEGATED:
        raise RuleViolation(DELEGATED, field=field)


class ProfileService:
    def __init__(
        self,
        session: OstiarySession,
        runtime: Runtime,
        actor: Actor,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.actor = actor
        self.verifications = ContactVerifications(session, runtime.settings, clock=clock)
        self.messages = Messages(session, runtime)

    def profile(self, user: User) -> ProfileOut:
        refuse_service_account(user)
        return ProfileOut(
            username=user.username,
            domain=user.domain.name,
            managed_externally=user.domain.kind == DomainKind.DELEGATED,
            first_name=user.first_name,
            last_name=user.last_name,
            email=user.email,
            email_verified=user.email_verified,
            phone=user.phone,
            language=user.language,
            pending=[
                PendingChangeOut(field=row.field, value=row.new_value, expires_at=row.expires_at)  # type: ignore[arg-type]
                for row in self.verifications.pending(user)
            ],
        )

    def update(self, user: User, data: ProfileUpdate) -> User:
        """Names and language, at once."""
        refuse_service_account(user)
        fields = data.model_fields_set
        if fields:
            refuse_if_delegated(user, sorted(fields)[0])
        return self._users().update(user, UserUpdate(**data.model_dump(include=fields)))

    # -- a new e-mail address or phone number ------------------------------------------------

    def request(self, user: User, field: ContactField, value: str) -> Requested:
        """Send a code (and for an address a link) to ``value`` and a notice to the current
        address; the profile stays as it is until the code is entered."""
        refuse_service_account(user)
        refuse_if_delegated(user, str(field))
        current = user.email_key if field is ContactField.EMAIL else user.phone
        if current == (value.casefold() if field is ContactField.EMAIL else value):
            raise RuleViolation(SAME[field], field=str(field))
        if field is ContactField.EMAIL and self._taken(user, value):
            # Counted like a code sent, so that addresses cannot be probed faster than codes
            # can be sent; beyond the limit the answer is 429 whether or not it is taken.
            with self.session.atomic():
                self.verifications.take_user_send(user)
            raise AlreadyExists(TAKEN, field="email")
        if field is ContactField.PHONE and not sms_allowed(self.runtime.settings, value):
            raise RuleViolation(SMS_REFUSED, field=str(field))
        if not self.messages.available(CHANNELS[field]):
            raise RuleViolation(CANNOT_SEND[field], field=str(field))
        minutes = self.runtime.settings.verification_minutes
        with self.session.atomic():
            issued = self.verifications.issue(user, field, value)
            variables: dict[str, object] = {"code": issued.code, "minutes": minutes}
            if issued.link_token is not None:
                variables["link"] = self._link(issued.link_token)
            self.messages.send(
                PURPOSES[field], user, variables, channel=CHANNELS[field], address=value
            )
            self._notify(
                user,
                "contact-change-requested",
                {
                    "field": str(field),
                    "new_value": mask(CHANNELS[field], value),
                    "minutes": minutes,
                },
            )
            AuditLog(self.session).record(
                self.actor,
                "user.verification_sent",
                target_type="user",
                target_id=user.id,
                changes={str(field): value},
            )
        return Requested(field, value, issued.verification.expires_at)

    def verify(self, user: User, field: ContactField, code: str, value: str | None = None) -> User:
        """Enter the code: the new value takes effect, or nothing changes but the count of
        tries."""
        refuse_service_account(user)
        refuse_if_delegated(user, str(field))
        with self.session.atomic():
            verdict, row = self.verifications.check_code(user, field, code, value)
            if verdict is Verdict.OK and row is not None:
                self._apply(user, row)
            else:
                self._failed(user, field, verdict)
        if verdict is Verdict.LOCKED:
            raise TooManyTries(self.verifications.tries_retry_after(user))
        if verdict is not Verdict.OK:
            raise VerificationFailed(verdict)
        return user

    def verify_link(self, token: str) -> User | None:
        """Open the link of the e-mail: the address takes effect. None when the link does not
        work (unknown, used, expired, replaced, or the account cannot change)."""
        with self.session.atomic():
            row = self.verifications.check_link(token)
            user = self.session.get(User, row.user_id) if row is not None else None
            if row is None or user is None or not self._may_change(user):
                return None
            self.actor = Actor(user.username, "web", user.id, self.actor.client_address)
            self._apply(user, row)
        return user

    # -- helpers -----------------------------------------------------------------------------

    def _apply(self, user: User, row: ContactVerification) -> None:
        field = ContactField(row.field)
        former = user.email
        if field is ContactField.EMAIL and self._taken(user, row.new_value):
            raise AlreadyExists(TAKEN, field="email")
        # The code or link came back from the new address: it is proven.
        proven = {"email_verified": True} if field is ContactField.EMAIL else {}
        self._users().update(user, UserUpdate(**{str(field): row.new_value}, **proven))
        self._notify(
            user,
            "contact-changed",
            {"field": str(field), "new_value": mask(CHANNELS[field], row.new_value)},
            address=former,
        )

    def _taken(self, user: User, email: str) -> bool:
        other = self.session.scalar(
            select(User.id).where(User.email_key == email.casefold(), User.id != user.id)
        )
        return other is not None

    def _notify(
        self, user: User, purpose: str, variables: dict[str, object], *, address: str | None = None
    ) -> None:
        """A notice to the account's (or its former) e-mail address, when there is one and a
        way to send; a notice that cannot be sent does not stop the change."""
        if not (address or user.email) or not self.messages.available(Channel.EMAIL):
            return
        try:
            self.messages.send(purpose, user, variables, address=address)
        except Exception:  # pragma: no cover - a broken custom template, say
            log.exception("the %s notice to user %s could not be queued", purpose, user.id)

    def _failed(self, user: User, field: ContactField, verdict: Verdict) -> None:
        AuditLog(self.session).record(
            self.actor,
            "user.verification_failed",
            target_type="user",
            target_id=user.id,
            changes={"field": str(field), "reason": str(verdict)},
        )

    def _link(self, token: str) -> str:
        return f"{self.runtime.settings.issuer.rstrip('/')}/account/verify-email?token={token}"

    @staticmethod
    def _may_change(user: User) -> bool:
        return (
            user.status == UserStatus.ACTIVE
            and user.domain.kind == DomainKind.LOCAL
            and not user.service_account
        )

    def _users(self) -> UserService:
        return UserService(self.session, self.actor, self.runtime.passwords)
