"""A user changing their own password, and what every new password by the user does to their
sessions and tokens (shared with the reset through the login page, ``ostiary.authn.resets``).

A new password gets a new security stamp. Sessions that should live on (the one the change was
made from, or all of them when the user keeps their other sessions) are carried over to the new
stamp; every other session ends, and so do the OAuth grants (refresh tokens and the access
tokens issued from them) that stand on those sessions.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import or_, update

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.models import BrowserSession
from ostiary.authn.throttle import PASSWORD, Attempt, Throttle, account_key, address_key
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.errors import FieldProblem, InvalidInput, RuleViolation
from ostiary.protocols.oidc.models import Grant
from ostiary.runtime import Runtime
from ostiary.users.models import DomainKind, User, UserStatus

log = logging.getLogger(__name__)

WRONG_CURRENT = "is not the current password"
DELEGATED = "your password is kept by your organization's identity provider: change it there"


class PasswordChanges:
    def __init__(self, runtime: Runtime, session: OstiarySession, actor: Actor) -> None:
        self.runtime = runtime
        self.session = session
        self.actor = actor

    def change(
        self,
        user: User,
        current: str,
        new: str,
        *,
        end_other_sessions: bool = True,
        current_session_id: uuid.UUID | None = None,
    ) -> int:
        """Check the current password (counted like a login attempt), then the new one
        against the policy; set it. Returns how many other sessions ended."""
        self._refuse_unless_local(user)
        throttle = Throttle(self.session, self.runtime.settings)
        attempt = Attempt(
            throttle,
            PASSWORD,
            account_key(user.id),
            address_key(self.actor.client_address),
            self.actor,
        )
        attempt.begin()
        if not self.runtime.passwords.verify(user.password_hash, current):
            attempt.failed()
            raise InvalidInput([FieldProblem("current_password", WRONG_CURRENT, "current")])
        attempt.succeeded()
        problems = self.runtime.passwords.problems(
            new, field="new_password", username=user.username, email=user.email
        )
        if new == current:
            problems.append(
                FieldProblem("new_password", "must differ from the current password", "same")
            )
        if problems:
            raise InvalidInput(problems)
        with self.session.atomic():
            ended = self.set_new_password(
                user,
                new,
                keep_session=current_session_id,
                end_other_sessions=end_other_sessions,
                reason="password_changed",
            )
            AuditLog(self.session).record(
                self.actor,
                "user.password_changed",
                target_type="user",
                target_id=user.id,
                changes={"password": "changed", "other_sessions_ended": ended},
            )
            notify_password_changed(self.runtime, self.session, user)
        return ended

    def set_new_password(
        self,
        user: User,
        password: str,
        *,
        keep_session: uuid.UUID | None,
        end_other_sessions: bool,
        reason: str,
    ) -> int:
        """Store the hash with a new security stamp; carry over the sessions that stay, end
        the others and revoke their grants. Returns how many sessions ended. In the caller's
        transaction; checks nothing."""
        user.password_hash = self.runtime.passwords.hash(password)
        user.security_stamp = uuid.uuid4()
        self.session.flush()
        return end_sessions(
            self.session,
            user,
            keep=keep_session,
            end_others=end_other_sessions,
            reason=reason,
        )

    @staticmethod
    def _refuse_unless_local(user: User) -> None:
        if user.domain.kind == DomainKind.DELEGATED:
            raise RuleViolation(DELEGATED, field="current_password")
        if user.service_account or user.status != UserStatus.ACTIVE or not user.password_hash:
            raise RuleViolation("this account has no password to change", field="current_password")


def end_sessions(
    session: OstiarySession,
    user: User,
    *,
    keep: uuid.UUID | None,
    end_others: bool,
    reason: str,
) -> int:
    """After ``user.security_stamp`` changed: the sessions that stay take the new stamp, the
    others end and the grants standing on them (or on no session) are revoked."""
    now = utcnow()
    live = (BrowserSession.user_id == user.id) & BrowserSession.ended_at.is_(None)
    staying = (
        live
        if not end_others
        else (live & (BrowserSession.id == keep) if keep is not None else None)
    )
    if staying is not None:
        session.execute(
            update(BrowserSession)
            .where(staying)
            .values(security_stamp=user.security_stamp)
            .execution_options(synchronize_session=False)
        )
    if not end_others:
        return 0
    ending = live if keep is None else live & (BrowserSession.id != keep)
    ended = session.execute(
        update(BrowserSession)
        .where(ending)
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    grants = (Grant.user_id == user.id) & Grant.revoked_at.is_(None)
    if keep is not None:
        grants &= or_(Grant.session_id.is_(None), Grant.session_id != keep)
    session.execute(
        update(Grant)
        .where(grants)
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(ended or 0)


def notify_password_changed(runtime: Runtime, session: OstiarySession, user: User) -> None:
    """Tell the user by e-mail, when there is an address and a way to send; in the caller's
    transaction. A notice that cannot be sent does not stop the change."""
    from ostiary.messages.services import Messages

    if not user.email:
        return
    messages = Messages(session, runtime)
    if not messages.available("email"):
        return
    try:
        messages.send("password-changed", user)
    except Exception:  # pragma: no cover - a broken custom template, say
        log.exception("the password-changed notice to user %s could not be queued", user.id)
