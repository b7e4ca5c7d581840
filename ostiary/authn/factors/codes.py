"""Codes sent by SMS and e-mail at the second factor (document 003, section "2FA").

- At least 6 digits (``OSTIARY_TWO_FACTOR_CODE_LENGTH``) from ``secrets``; only an HMAC of the
  code, keyed by the server's secret and salted with the code's id, is stored.
- Valid ``OSTIARY_TWO_FACTOR_CODE_MINUTES`` (at most 10), once, and only in the login flow it
  was sent for. Sending a new code to a user makes every earlier one of theirs useless.
- Each code takes ``OSTIARY_TWO_FACTOR_CODE_TRIES`` entries, and each user
  ``OSTIARY_TWO_FACTOR_USER_TRIES`` wrong second-factor entries within the window, counted
  atomically (``ostiary.authn.factors.limits``) before the comparison, so parallel guesses
  cannot get past the limits.
- SMS go to the phone number of the profile, only when it matches
  ``OSTIARY_TWO_FACTOR_SMS_PATTERN``; a blocked number is reported back, not sent to.
- The message is in the user's language, else the instance default (ostiary.messages).
- Sending is throttled per user and per address (``OSTIARY_TWO_FACTOR_SENDS_PER_*`` within the
  window, and ``OSTIARY_TWO_FACTOR_RESEND_SECONDS`` between two codes of one login), so the
  login page cannot flood a phone or a mailbox.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.factors.limits import WindowCounter
from ostiary.authn.factors.models import SecondFactorCode, SentCodeMixin
from ostiary.branding.resolution import Brand
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow, uuid7
from ostiary.messages.delivery import delivery_mode
from ostiary.messages.purposes import Channel
from ostiary.messages.services import Messages
from ostiary.runtime import Runtime
from ostiary.settings import Settings
from ostiary.users.models import User

PURPOSE = "second-factor-code"


class Verdict(enum.StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    # This code took all its tries: a new one must be sent.
    SPENT = "spent"
    # The user took all their tries for now.
    LOCKED = "locked"
    NO_CODE = "no-code"


@dataclass
class Sent:
    """What became of a request to send a code."""

    channels: list[Channel] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)
    # The phone number does not match the pattern: no SMS was sent.
    sms_blocked: bool = False
    # Channels the user has no address for, or the server cannot send by.
    unavailable: list[Channel] = field(default_factory=list)
    throttled: bool = False
    wait_seconds: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.channels)


def tries_key(user_id: uuid.UUID) -> str:
    return f"2fa-tries:user:{user_id}"


class CodeHasher:
    """Codes of digits from ``secrets``, and their HMAC: keyed by the server's secret under a
    label of their use, salted with the code's id and what the code is bound to."""

    def __init__(self, settings: Settings, label: bytes) -> None:
        self.length = settings.two_factor_code_length
        self._key = hmac.new(settings.effective_secret_key, label, hashlib.sha256).digest()

    def new_code(self) -> str:
        return f"{secrets.randbelow(10**self.length):0{self.length}d}"

    def digest(self, code_id: uuid.UUID, code: str, *, bound_to: str = "") -> str:
        message = f"{code_id}:{bound_to}:{code}" if bound_to else f"{code_id}:{code}"
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()


def sms_allowed(settings: Settings, phone: str) -> bool:
    """Whether the instance sends codes by SMS to this number (``OSTIARY_TWO_FACTOR_SMS_PATTERN``)."""
    pattern = settings.two_factor_sms_pattern
    return not pattern or re.fullmatch(pattern, phone) is not None


def address_sends_key(channel: Channel, address: str) -> str:
    """The counter of codes sent to one phone number or mailbox, whatever they were for."""
    digest = hashlib.sha256(f"{channel}:{address.casefold()}".encode()).hexdigest()
    return f"2fa-send:address:{digest}"


def replace_live_codes(
    session: OstiarySession, model: type[SentCodeMixin], owner: ColumnElement[bool], now: datetime
) -> None:
    """Every live code of ``owner`` stops working (a newer one is on its way)."""
    session.execute(
        update(model)
        .where(owner, model.used_at.is_(None), model.replaced_at.is_(None))
        .values(replaced_at=now)
        .execution_options(synchronize_session=False)
    )


def check_sent_code(
    session: OstiarySession,
    model: type[SentCodeMixin],
    code_id: uuid.UUID,
    entered: str,
    hasher: CodeHasher,
    *,
    tries: int,
    now: datetime,
    bound_to: str = "",
) -> Verdict:
    """One entry of a live code: the code's try is counted atomically before the comparison
    (parallel guesses cannot pass ``tries``), and a match uses the code up, exactly once."""
    live = (model.id == code_id) & model.used_at.is_(None) & model.replaced_at.is_(None)
    reserved = session.execute(
        update(model)
        .where(live, model.attempts < tries)
        .values(attempts=model.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if reserved.rowcount != 1:  # type: ignore[attr-defined]
        return Verdict.SPENT
    code_hash = session.scalar(select(model.code_hash).where(model.id == code_id))
    digest = hasher.digest(code_id, "".join(entered.split()), bound_to=bound_to)
    if not hmac.compare_digest(digest, code_hash or ""):
        return Verdict.WRONG
    used = session.execute(
        update(model).where(live).values(used_at=now).execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return Verdict.SPENT
    return Verdict.OK


def mask(channel: Channel, address: str) -> str:
    """Enough of an address for the user to recognise it, not enough to learn it."""
    if channel is Channel.SMS:
        return f"{address[:3]}{'•' * max(len(address) - 5, 3)}{address[-2:]}"
    local, _, domain = address.partition("@")
    return f"{local[:1]}{'•' * max(len(local) - 1, 3)}@{domain}"


class CodeService:
    def __init__(
        self,
        session: OstiarySession,
        runtime: Runtime,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.settings = runtime.settings
        self.clock = clock
        self.audit = AuditLog(session)
        self.hasher = CodeHasher(self.settings, b"ostiary/second-factor-codes/v1")
        window = timedelta(minutes=self.settings.two_factor_window_minutes)
        self.user_sends = WindowCounter(
            session, limit=self.settings.two_factor_sends_per_user, window=window
        )
        self.address_sends = WindowCounter(
            session, limit=self.settings.two_factor_sends_per_address, window=window
        )
        self.user_tries = WindowCounter(
            session, limit=self.settings.two_factor_user_tries, window=window
        )

    # -- sending ---------------------------------------------------------------------------

    def send(
        self,
        user: User,
        flow_id: uuid.UUID,
        channels: tuple[Channel, ...],
        actor: Actor,
        *,
        brand: Brand | None = None,
    ) -> Sent:
        """Queue a new code for this login by each channel that can take it (in the caller's
        transaction), or say why not. The messages carry ``brand``, the login's branding."""
        now = self.clock()
        result = Sent()
        targets: list[tuple[Channel, str]] = []
        for channel in channels:
            address = user.phone if channel is Channel.SMS else user.email
            if not address or delivery_mode(self.settings, channel) is None:
                result.unavailable.append(channel)
            elif channel is Channel.SMS and not sms_allowed(self.settings, address):
                result.sms_blocked = True
            else:
                targets.append((channel, address))
        if result.sms_blocked:
            self.audit.record(
                actor,
                "second_factor.sms_blocked",
                target_type="user",
                target_id=user.id,
                changes={"reason": "the phone number does not match the SMS pattern"},
            )
        if not targets:
            return result
        latest = self.session.scalar(
            select(SecondFactorCode.created_at)
            .where(SecondFactorCode.flow_id == flow_id)
            .order_by(SecondFactorCode.created_at.desc())
            .limit(1)
        )
        resend = timedelta(seconds=self.settings.two_factor_resend_seconds)
        if latest is not None and now - latest < resend:
            result.throttled = True
            result.wait_seconds = int((latest + resend - now).total_seconds()) + 1
            return result
        if not self.user_sends.take(f"2fa-send:user:{user.id}", now=now):
            return self._throttled(result, user, actor, "user")
        allowed = [
            (channel, address)
            for channel, address in targets
            if self.address_sends.take(address_sends_key(channel, address), now=now)
        ]
        if not allowed:
            return self._throttled(result, user, actor, "address")
        code = self.hasher.new_code()
        replace_live_codes(self.session, SecondFactorCode, SecondFactorCode.user_id == user.id, now)
        row = SecondFactorCode(
            id=uuid7(),
            user_id=user.id,
            flow_id=flow_id,
            code_hash="",
            channels=[str(c) for c, _ in allowed],
            created_at=now,
            expires_at=now + timedelta(minutes=self.settings.two_factor_code_minutes),
        )
        row.code_hash = self.hasher.digest(row.id, code)
        self.session.add(row)
        messages = Messages(self.session, self.runtime)
        variables = {"code": code, "minutes": self.settings.two_factor_code_minutes}
        for channel, address in allowed:
            messages.send(PURPOSE, user, variables, channel=channel, brand=brand)
            result.channels.append(channel)
            result.addresses[str(channel)] = mask(channel, address)
        self.audit.record(
            actor,
            "second_factor.code_sent",
            target_type="user",
            target_id=user.id,
            changes={"channels": [str(c) for c in result.channels], "flow": str(flow_id)},
        )
        return result

    def _throttled(self, result: Sent, user: User, actor: Actor, by: str) -> Sent:
        result.throttled = True
        self.audit.record(
            actor,
            "second_factor.send_throttled",
            target_type="user",
            target_id=user.id,
            changes={"by": by},
        )
        return result

    def has_live_code(self, user_id: uuid.UUID, flow_id: uuid.UUID) -> bool:
        return self._current(user_id, flow_id) is not None

    # -- checking ---------------------------------------------------------------------------

    def take_try(self, user: User) -> bool:
        """Count one second-factor entry of the user; False when they have none left now."""
        return self.user_tries.take(tries_key(user.id), now=self.clock())

    def passed(self, user: User) -> None:
        self.user_tries.reset(tries_key(user.id))

    def verify(self, user: User, flow_id: uuid.UUID, code: str, actor: Actor) -> Verdict:
        """Check a code entered in the login flow ``flow_id``. Every call counts as a try of the
        user and of the code, before the comparison."""
        now = self.clock()
        if not self.take_try(user):
            self._failed(user, actor, Verdict.LOCKED)
            return Verdict.LOCKED
        current = self._current(user.id, flow_id)
        if current is None:
            self._failed(user, actor, Verdict.NO_CODE)
            return Verdict.NO_CODE
        code_id, expires_at = current
        if expires_at <= now:
            self._failed(user, actor, Verdict.EXPIRED)
            return Verdict.EXPIRED
        verdict = check_sent_code(
            self.session,
            SecondFactorCode,
            code_id,
            code,
            self.hasher,
            tries=self.settings.two_factor_code_tries,
            now=now,
        )
        if verdict is not Verdict.OK:
            self._failed(user, actor, verdict)
            return verdict
        self.passed(user)
        return Verdict.OK

    def _current(self, user_id: uuid.UUID, flow_id: uuid.UUID) -> tuple[uuid.UUID, datetime] | None:
        row = self.session.execute(
            select(SecondFactorCode.id, SecondFactorCode.expires_at)
            .where(
                SecondFactorCode.user_id == user_id,
                SecondFactorCode.flow_id == flow_id,
                SecondFactorCode.used_at.is_(None),
                SecondFactorCode.replaced_at.is_(None),
            )
            .order_by(SecondFactorCode.created_at.desc())
            .limit(1)
        ).first()
        return (row[0], row[1]) if row is not None else None

    def _failed(self, user: User, actor: Actor, verdict: Verdict) -> None:
        self.audit.record(
            actor,
            "second_factor.failed",
            target_type="user",
            target_id=user.id,
            changes={"method": "code", "reason": str(verdict)},
        )
