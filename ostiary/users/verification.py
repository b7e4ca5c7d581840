"""Codes and links that prove a new e-mail address or phone number is the user's.

- The code has ``OSTIARY_TWO_FACTOR_CODE_LENGTH`` digits from ``secrets``; only an HMAC of it is
  stored, keyed by the server's secret and bound to the verification's id, the field and the
  exact new value. An address also gets a link: a one-time token (``ostiary.authn.tokens``,
  only its SHA-256 stored). Both work ``OSTIARY_VERIFICATION_MINUTES``, once.
- A new request for a field makes every earlier code and link of the user for it useless.
- Tries are counted atomically before the comparison, as at the second factor
  (``ostiary.authn.factors.codes``): ``OSTIARY_TWO_FACTOR_CODE_TRIES`` per code and
  ``OSTIARY_TWO_FACTOR_USER_TRIES`` per user within ``OSTIARY_TWO_FACTOR_WINDOW_MINUTES``.
- Sending is throttled like the second factor's codes: ``OSTIARY_TWO_FACTOR_RESEND_SECONDS``
  between two requests, ``OSTIARY_TWO_FACTOR_SENDS_PER_USER`` per user, and per phone number
  or mailbox ``OSTIARY_TWO_FACTOR_SENDS_PER_ADDRESS``, counted together with the login codes
  sent there, so that nobody floods a phone or a mailbox through either.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update

from ostiary.authn.factors.codes import (
    CodeHasher,
    Verdict,
    address_sends_key,
    check_sent_code,
    replace_live_codes,
)
from ostiary.authn.factors.limits import WindowCounter
from ostiary.authn.throttle import Throttled
from ostiary.authn.tokens import OneTimeTokens
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow, uuid7
from ostiary.messages.purposes import Channel
from ostiary.settings import Settings
from ostiary.text import Text
from ostiary.users.models import ContactField, ContactVerification, User

# The one-time token purpose of the link in the e-mail.
LINK_PURPOSE = "email-change"

CHANNELS = {ContactField.EMAIL: Channel.EMAIL, ContactField.PHONE: Channel.SMS}


@dataclass(frozen=True)
class Issued:
    verification: ContactVerification
    code: str
    # The link's token, for an e-mail address.
    link_token: str | None


def _binding(field: ContactField | str, value: str) -> str:
    return f"{field}:{value}"


def _tries_key(user: User) -> str:
    return f"verify-tries:user:{user.id}"


def _unknown_tries_key(subject: uuid.UUID) -> str:
    return f"verify-tries:unknown:{subject}"


def _live(user_id: uuid.UUID, field: ContactField) -> ColumnElement[bool]:
    return (
        (ContactVerification.user_id == user_id)
        & (ContactVerification.field == str(field))
        & ContactVerification.used_at.is_(None)
        & ContactVerification.replaced_at.is_(None)
    )


class ContactVerifications:
    def __init__(
        self, session: OstiarySession, settings: Settings, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.session = session
        self.settings = settings
        self.clock = clock
        self.hasher = CodeHasher(settings, b"ostiary/contact-verification/v1")
        self.lifetime = timedelta(minutes=settings.verification_minutes)
        window = timedelta(minutes=settings.two_factor_window_minutes)
        self.user_sends = WindowCounter(
            session, limit=settings.two_factor_sends_per_user, window=window
        )
        self.address_sends = WindowCounter(
            session, limit=settings.two_factor_sends_per_address, window=window
        )
        self.user_tries = WindowCounter(
            session, limit=settings.two_factor_user_tries, window=window
        )
        self.tokens = OneTimeTokens(session)

    # -- issuing -----------------------------------------------------------------------------

    def issue(self, user: User, field: ContactField, value: str) -> Issued:
        """A new code (and link) for ``value``, in the caller's transaction; ``Throttled`` when
        the user or the address had enough lately. Earlier ones of the user for ``field`` die."""
        now = self.clock()
        self._throttle(user, field, value, now)
        owner = (ContactVerification.user_id == user.id) & (ContactVerification.field == str(field))
        replace_live_codes(self.session, ContactVerification, owner, now)
        row = ContactVerification(
            id=uuid7(),
            user_id=user.id,
            field=str(field),
            new_value=value,
            code_hash="",
            created_at=now,
            expires_at=now + self.lifetime,
        )
        code = self.hasher.new_code()
        row.code_hash = self.hasher.digest(row.id, code, bound_to=_binding(field, value))
        link_token = None
        if field is ContactField.EMAIL:
            link_token = self.tokens.issue(LINK_PURPOSE, user.id, self.lifetime)
            token = self.tokens.peek(LINK_PURPOSE, link_token)
            row.link_token_id = token.id if token is not None else None
        self.session.add(row)
        return Issued(row, code, link_token)

    def _throttle(self, user: User, field: ContactField, value: str, now: datetime) -> None:
        latest = self.session.scalar(
            select(ContactVerification.created_at)
            .where(
                ContactVerification.user_id == user.id,
                ContactVerification.field == str(field),
            )
            .order_by(ContactVerification.created_at.desc())
            .limit(1)
        )
        resend = timedelta(seconds=self.settings.two_factor_resend_seconds)
        if latest is not None and now - latest < resend:
            wait = int((latest + resend - now).total_seconds()) + 1
            raise Throttled(
                wait, Text("a code was just sent: ask again in {wait} seconds", wait=wait)
            )
        self.take_user_send(user, now)
        address_key = address_sends_key(CHANNELS[field], value)
        if not self.address_sends.take(address_key, now=now):
            wait = self.address_sends.retry_after(address_key, now=now)
            raise Throttled(
                wait,
                Text("too many codes went there lately: ask again in {wait} seconds", wait=wait),
            )

    def take_user_send(self, user: User, now: datetime | None = None) -> None:
        """Count one request of the user against their sending limit; ``Throttled`` beyond it."""
        now = now or self.clock()
        key = f"verify-send:user:{user.id}"
        if not self.user_sends.take(key, now=now):
            wait = self.user_sends.retry_after(key, now=now)
            raise Throttled(
                wait,
                Text("too many codes were sent lately: ask again in {wait} seconds", wait=wait),
            )

    # -- reading -----------------------------------------------------------------------------

    def pending(self, user: User) -> Sequence[ContactVerification]:
        """The user's changes waiting for verification, one per field at most."""
        return self.session.scalars(
            select(ContactVerification)
            .where(
                ContactVerification.user_id == user.id,
                ContactVerification.used_at.is_(None),
                ContactVerification.replaced_at.is_(None),
                ContactVerification.expires_at > self.clock(),
            )
            .order_by(ContactVerification.field)
        ).all()

    # -- checking ----------------------------------------------------------------------------

    def check_code(
        self, user: User, field: ContactField, code: str, value: str | None = None
    ) -> tuple[Verdict, ContactVerification | None]:
        """One entry of the code for ``field`` (and, when given, the value it must be for).
        Counted as a try of the user and of the code before the comparison."""
        now = self.clock()
        tries = _tries_key(user)
        if not self.user_tries.take(tries, now=now):
            return Verdict.LOCKED, None
        row = self.session.scalars(
            select(ContactVerification)
            .where(_live(user.id, field))
            .order_by(ContactVerification.created_at.desc())
            .limit(1)
        ).first()
        if row is None:
            return Verdict.NO_CODE, None
        if row.expires_at <= now:
            return Verdict.EXPIRED, row
        verdict = check_sent_code(
            self.session,
            ContactVerification,
            row.id,
            code,
            self.hasher,
            tries=self.settings.two_factor_code_tries,
            now=now,
            bound_to=_binding(field, value if value is not None else row.new_value),
        )
        if verdict is Verdict.OK:
            self.user_tries.reset(tries)
            if row.link_token_id is not None:
                self.tokens.consume_id(row.link_token_id)
        return verdict, row

    def tries_retry_after(self, user: User) -> int:
        """Seconds until the user may enter codes again."""
        return self.user_tries.retry_after(_tries_key(user), now=self.clock())

    def check_unknown(self, subject: uuid.UUID) -> Verdict:
        """An entry of a code for ``subject``, which awaits none: an id handed out so as not
        to tell that an address has an account. Counted and answered as for a real code
        that is wrong (wrong, then spent after the code's tries, then locked after the
        user's), so that the answers do not tell the two apart."""
        now = self.clock()
        key = _unknown_tries_key(subject)
        if not self.user_tries.take(key, now=now):
            return Verdict.LOCKED
        if self.user_tries.used(key, now=now) > self.settings.two_factor_code_tries:
            return Verdict.SPENT
        return Verdict.WRONG

    def unknown_retry_after(self, subject: uuid.UUID) -> int:
        return self.user_tries.retry_after(_unknown_tries_key(subject), now=self.clock())

    def check_link(self, token: str) -> ContactVerification | None:
        """The verification whose link this is, used up; None when the link is unknown,
        used, expired or replaced by a newer request."""
        used = self.tokens.consume(LINK_PURPOSE, token)
        if used is None:
            return None
        row = self.session.scalars(
            select(ContactVerification).where(
                ContactVerification.link_token_id == used.id,
                ContactVerification.field == str(ContactField.EMAIL),
                ContactVerification.used_at.is_(None),
                ContactVerification.replaced_at.is_(None),
                ContactVerification.expires_at > self.clock(),
            )
        ).first()
        if row is None:
            return None
        taken = self.session.execute(
            update(ContactVerification)
            .where(ContactVerification.id == row.id, ContactVerification.used_at.is_(None))
            .values(used_at=self.clock())
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return row
