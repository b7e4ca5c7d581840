"""Resetting a forgotten password through an e-mailed link.

``request`` is what the page does while the browser waits: one lookup and the throttle counts
(per account, or per unknown name, and per client address), the same work whether or not the
account exists. What depends on the account, issuing the link and queueing the e-mail, is
``deliver``, which the page runs after its answer has gone out (a background task with a
session of its own), so that neither the answer nor its timing tells whether an account exists.

The link is a one-time token (``ostiary.authn.tokens``, only its SHA-256 is stored) that works
once and for ``password_reset_minutes``; a new request makes the previous link useless.
Completing a reset sets the password under the policy, ends every session and revokes every
token of the user, and signs nobody in: the user then signs in as usual, second factor
included. Users of a delegated domain get no link: the e-mail tells them that their
organization's identity provider keeps their password.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.password_change import PasswordChanges, notify_password_changed
from ostiary.authn.throttle import (
    PASSWORD,
    RESET,
    Attempt,
    Throttle,
    account_key,
    address_key,
)
from ostiary.authn.tokens import OneTimeTokens
from ostiary.branding.resolution import Brand
from ostiary.db.session import OstiarySession
from ostiary.errors import FieldProblem, InvalidInput, NotFound
from ostiary.runtime import Runtime
from ostiary.users.models import DomainKind, User, UserStatus

log = logging.getLogger(__name__)

RESET_PURPOSE = "password-reset"
EXPIRED = "This link was used already or has expired. Ask for a new one."


@dataclass(frozen=True)
class ResetRequest:
    """What ``deliver`` needs, read while the browser waits."""

    user_id: uuid.UUID | None
    address: str | None
    # The branding of the login the request came from (None: the user's own).
    brand: Brand | None = None


def find_user(session: OstiarySession, identifier: str) -> User | None:
    """The user with this username or e-mail address (case-insensitive), as at login."""
    key = identifier.strip().casefold()
    if not key:
        return None
    return session.scalars(
        select(User).where(or_(User.username == key, User.email_key == key))
    ).first()


class PasswordResets:
    def __init__(
        self, runtime: Runtime, session: OstiarySession, client_address: str | None
    ) -> None:
        self.runtime = runtime
        self.session = session
        self.client_address = client_address
        self.tokens = OneTimeTokens(session)

    # -- asking for a link ---------------------------------------------------------------

    def request(self, identifier: str, brand: Brand | None = None) -> ResetRequest:
        """Count the request (``Throttled`` while the account or the address must wait) and
        find whom to write to. Commits the counts; does the same whether the account exists."""
        user = find_user(self.session, identifier)
        throttle = Throttle(self.session, self.runtime.settings)
        account = account_key(user.id) if user else throttle.name_key(identifier)
        actor = Actor(user.username if user else "(unknown user)", "web", None, self.client_address)
        attempt = Attempt(throttle, RESET, account, address_key(self.client_address), actor)
        attempt.begin()
        # Every request counts towards the wait; a request is never a success.
        attempt.failed()
        return ResetRequest(user.id if user else None, self.client_address, brand)

    def deliver(self, request: ResetRequest) -> str | None:
        """Issue and mail the link, or the note for a delegated user; audited. Returns what
        was sent (``link``, ``external``) or None. Runs after the page answered."""
        if request.user_id is None:
            return None
        with self.session.atomic():
            user = self.session.get(User, request.user_id)
            if user is None:
                return None
            sent, reason = self._send(user, request.brand)
            AuditLog(self.session).record(
                Actor(user.username, "web", None, request.address),
                "user.password_reset_requested",
                target_type="user",
                target_id=user.id,
                changes={"sent": sent} | ({"reason": reason} if reason else {}),
            )
        return sent

    def _send(self, user: User, brand: Brand | None) -> tuple[str | None, str | None]:
        from ostiary.messages.services import Messages

        if user.status != UserStatus.ACTIVE or user.service_account:
            return (
                None,
                f"the account is {'a service account' if user.service_account else user.status}",
            )
        if not user.email:
            return None, "the user has no e-mail address"
        messages = Messages(self.session, self.runtime)
        if not messages.available("email"):
            return None, "no way to send e-mail is configured"
        if user.domain.kind == DomainKind.DELEGATED:
            messages.send("password-reset-external", user, brand=brand)
            return "external", None
        minutes = self.runtime.settings.password_reset_minutes
        token = self.tokens.issue(RESET_PURPOSE, user.id, timedelta(minutes=minutes))
        link = f"{self.runtime.settings.issuer.rstrip('/')}/login/reset?token={token}"
        messages.send(RESET_PURPOSE, user, {"link": link, "minutes": minutes}, brand=brand)
        return "link", None

    # -- using the link ------------------------------------------------------------------

    def user_for(self, token: str) -> User:
        """The user whose live link this is; ``NotFound`` when used, expired or unknown, or
        when the user can no longer have a password here."""
        found = self.tokens.peek(RESET_PURPOSE, token) if token else None
        user = self.session.get(User, found.user_id) if found and found.user_id else None
        if user is None or not _may_reset(user):
            raise NotFound(EXPIRED, field="token")
        return user

    def complete(self, token: str, password: str, confirmation: str) -> User:
        """Set the new password; the link is used up, every session and token of the user
        ends. ``InvalidInput`` names ``password`` or ``confirmation``; the link stays valid
        then. Nobody is signed in."""
        user = self.user_for(token)
        problems = self.runtime.passwords.problems(
            password, field="password", username=user.username, email=user.email
        )
        if password != confirmation:
            problems.append(FieldProblem("confirmation", "does not match the password", "match"))
        if problems:
            raise InvalidInput(problems)
        actor = Actor(user.username, "web", None, self.client_address)
        with self.session.atomic():
            if self.tokens.consume(RESET_PURPOSE, token) is None:
                raise NotFound(EXPIRED, field="token")
            changes = PasswordChanges(self.runtime, self.session, actor)
            ended = changes.set_new_password(
                user, password, keep_session=None, end_other_sessions=True, reason="password_reset"
            )
            # Whoever was guessing the old password has nothing left to guess.
            Throttle(self.session, self.runtime.settings).succeeded(PASSWORD, account_key(user.id))
            AuditLog(self.session).record(
                actor,
                "user.password_reset",
                target_type="user",
                target_id=user.id,
                changes={"password": "reset", "sessions_ended": ended},
            )
            notify_password_changed(self.runtime, self.session, user)
        return user


def _may_reset(user: User) -> bool:
    return (
        user.status == UserStatus.ACTIVE
        and not user.service_account
        and user.domain.kind == DomainKind.LOCAL
    )


def deliver_in_background(runtime: Runtime, request: ResetRequest) -> None:
    """``deliver`` with a session of its own, for a background task: failures are logged."""
    if request.user_id is None:
        return
    try:
        with runtime.sessions() as session:
            PasswordResets(runtime, session, request.address).deliver(request)
    except Exception:
        log.exception("the password reset for user %s could not be sent", request.user_id)
