"""Brute-force protection: growing delays after failures, per account and per client address.

Each (kind, key) pair has a counter of failures in its current streak. Once a key reaches its
threshold (``throttle_account_failures`` for accounts, the higher ``throttle_address_failures``
for client addresses), every further failure makes the next attempt wait twice as long, from
``throttle_base_seconds`` up to ``throttle_max_seconds``. A streak is forgotten after
``throttle_window_minutes`` without a failure, and a success resets an account's counter. There
is no permanent lock: at worst the real user waits ``throttle_max_seconds``.

Kinds name what is guessed: ``password`` (login page and HTTP Basic share it), ``code``
(second-factor codes), ``reset`` (requests for a reset link). Keys name who is guessed at
(``account_key``, ``name_key`` for identifiers that match no account, so that unknown names
are throttled exactly like real ones) or where from (``address_key``).

Two ways to use it, both counted atomically on SQLite and PostgreSQL (one ``INSERT ... ON
CONFLICT DO UPDATE ... RETURNING`` statement, never read-modify-write):

* ``check`` before verifying, ``failed`` after a wrong guess, ``succeeded`` after a right one:

      throttle = Throttle(session, settings)
      if not (verdict := throttle.check("code", account_key(user.id))).allowed:
          ...answer "wait verdict.retry_after seconds" without verifying...
      if code_ok: throttle.succeeded("code", key)
      else: throttle.failed("code", key)

* ``attempt`` counts the attempt *before* verifying and refuses it when the key is waiting, in
  one statement; a success then calls ``succeeded`` (accounts) or ``forgive`` (addresses). So
  a hundred parallel guesses are counted as a hundred, and only those before the threshold
  are verified at all. The login page and HTTP Basic work this way.

Each method writes in ``session.atomic()``: called outside a transaction it commits at once,
which it should, so that parallel requests see the count and no lock is held while a hash is
verified.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import math
import secrets
import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Integer,
    String,
    bindparam,
    case,
    delete,
    false,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db.base import Base
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.errors import OstiaryError
from ostiary.settings import Settings

PASSWORD = "password"
CODE = "code"
RESET = "reset"

# While counting, one time in this many the streaks that are over are deleted.
PURGE_ONE_IN = 256

ACCOUNT_PREFIX = "user:"
NAME_PREFIX = "name:"
ADDRESS_PREFIX = "address:"


class SignInThrottle(Base):
    """The failure streak of one key for one kind of guess."""

    __tablename__ = "sign_in_throttles"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    first_failure_at: Mapped[datetime] = mapped_column()
    last_failure_at: Mapped[datetime] = mapped_column()
    # No attempt is verified before this time.
    blocked_until: Mapped[datetime | None] = mapped_column()
    # Whether the latest attempt came while blocked and was refused unverified.
    last_refused: Mapped[bool] = mapped_column(Boolean, default=False)


class Throttled(OstiaryError):
    """Too many failures lately: wait ``retry_after`` seconds. Nothing was verified."""

    kind = "throttled"
    status = 429
    title = "Too many attempts"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail or f"too many failed attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after

    def extensions(self) -> dict[str, object]:
        return {"retry_after": self.retry_after}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def account_key(user_id: uuid.UUID) -> str:
    return f"{ACCOUNT_PREFIX}{user_id}"


def name_key(identifier: str, secret: bytes) -> str:
    """The key of a username or address that matches no account. Keyed and hashed: people
    type passwords into the username field, and those must not be stored."""
    folded = identifier.strip().casefold().encode()
    return NAME_PREFIX + hmac.new(secret, folded, hashlib.sha256).hexdigest()[:40]


def address_key(address: str | None) -> str | None:
    """The key of a client address; IPv6 addresses count per /64, which one client holds."""
    if not address:
        return None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return ADDRESS_PREFIX + address[:100]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return ADDRESS_PREFIX + str(parsed.ipv4_mapped)
        return ADDRESS_PREFIX + str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return ADDRESS_PREFIX + str(parsed)


@dataclass(frozen=True)
class Verdict:
    kind: str
    key: str
    failures: int
    blocked_until: datetime | None
    # This attempt came while the key was waiting: it must not be verified.
    refused: bool
    threshold: int
    now: datetime

    @property
    def allowed(self) -> bool:
        return not self.refused

    @property
    def retry_after(self) -> int:
        """Seconds until the next attempt is verified (0: at once)."""
        if self.blocked_until is None or self.blocked_until <= self.now:
            return 0
        return max(1, math.ceil((self.blocked_until - self.now).total_seconds()))

    @property
    def starts_throttling(self) -> bool:
        """The failure that made the key reach its threshold: throttling begins."""
        return not self.refused and self.failures == self.threshold


class Throttle:
    def __init__(self, session: OstiarySession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.account_threshold = settings.throttle_account_failures
        self.address_threshold = settings.throttle_address_failures
        self.base = settings.throttle_base_seconds
        self.cap = settings.throttle_max_seconds
        self.window = timedelta(minutes=settings.throttle_window_minutes)

    def name_key(self, identifier: str) -> str:
        """``name_key`` with this instance's secret."""
        return name_key(identifier, self.settings.effective_secret_key)

    def threshold(self, key: str) -> int:
        return self.address_threshold if key.startswith(ADDRESS_PREFIX) else self.account_threshold

    def delay(self, failures: int, key: str) -> float:
        """Seconds to wait after ``failures`` failures in a row (0 below the threshold)."""
        over = failures - self.threshold(key)
        if over < 0:
            return 0.0
        return float(min(self.base * 2 ** min(over, 62), self.cap))

    # -- reading -------------------------------------------------------------------------

    def check(self, kind: str, key: str, *, now: datetime | None = None) -> Verdict:
        """Whether an attempt may be verified now; counts nothing."""
        now = now or utcnow()
        row = self.session.execute(
            select(SignInThrottle.failures, SignInThrottle.blocked_until).where(
                SignInThrottle.kind == kind, SignInThrottle.key == key
            )
        ).one_or_none()
        failures, until = (row.failures, row.blocked_until) if row else (0, None)
        blocked = until is not None and until > now
        return Verdict(kind, key, failures, until, blocked, self.threshold(key), now)

    def state(self, key: str) -> list[SignInThrottle]:
        """Every kind's streak for a key (for administrators)."""
        return list(
            self.session.scalars(
                select(SignInThrottle)
                .where(SignInThrottle.key == key)
                .order_by(SignInThrottle.kind)
                .execution_options(populate_existing=True)
            )
        )

    # -- counting ------------------------------------------------------------------------

    def attempt(
        self, kind: str, key: str, *, actor: Actor | None = None, now: datetime | None = None
    ) -> Verdict:
        """Count an attempt before verifying it; ``refused`` when the key is waiting (then do
        not verify). After a wrong guess call ``rejected``; after a right one ``succeeded``."""
        return self.attempt_all(kind, [key], now=now)[0]

    def attempt_all(
        self, kind: str, keys: Sequence[str], *, now: datetime | None = None
    ) -> list[Verdict]:
        """``attempt`` for several keys (an account and a client address) in one transaction."""
        return self._count(kind, keys, now)

    def rejected(self, verdict: Verdict, *, actor: Actor) -> None:
        """An attempt counted by ``attempt`` turned out wrong: record when throttling starts."""
        if verdict.starts_throttling:
            with self.session.atomic():
                self._record_start(verdict, actor)

    def failed(
        self, kind: str, key: str, *, actor: Actor | None = None, now: datetime | None = None
    ) -> Verdict:
        """Count a wrong guess that was verified after ``check``."""
        (verdict,) = self._count(kind, [key], now)
        if verdict.starts_throttling and actor is not None:
            with self.session.atomic():
                self._record_start(verdict, actor)
        return verdict

    def succeeded(
        self, kind: str, key: str, *, forgiven: str | None = None, commit: bool = True
    ) -> None:
        """A right guess: the streak ends and the key waits no more; ``forgiven`` (a client
        address) has its attempt taken back in the same transaction. Without ``commit``, in
        the caller's transaction (a sign-in settles it with the session it starts)."""
        with self.session.atomic() if commit else nullcontext():
            connection = self.session.core()
            connection.execute(_END_STREAK, {"p_kind": kind, "p_key": key})
            if forgiven is not None:
                connection.execute(_FORGIVE, {"p_kind": kind, "p_key": forgiven})

    def forgive(self, kind: str, key: str) -> None:
        """Take back one attempt counted by ``attempt`` that succeeded, without ending the
        streak (for client addresses, which a success proves nothing about)."""
        with self.session.atomic():
            self.session.execute(_FORGIVE, {"p_kind": kind, "p_key": key})

    def clear(self, key: str, *, actor: Actor, target_id: uuid.UUID | None = None) -> int:
        """End every kind's streak of a key (an administrator's decision); audited."""
        with self.session.atomic():
            cleared = self.session.execute(
                delete(SignInThrottle)
                .where(SignInThrottle.key == key)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            AuditLog(self.session).record(
                actor,
                "sign_in.throttle_cleared",
                target_type=_target_type(key),
                target_id=target_id or _target_id(key),
                changes={"cleared": cleared},
            )
        return int(cleared or 0)

    def purge(self, *, now: datetime | None = None) -> int:
        """Forget streaks that are over (past the window, nobody waiting): client addresses
        are personal data, and the table stays small. Done now and then while counting."""
        now = now or utcnow()
        with self.session.atomic():
            purged = self.session.execute(
                delete(SignInThrottle)
                .where(
                    SignInThrottle.last_failure_at <= now - self.window,
                    or_(
                        SignInThrottle.blocked_until.is_(None),
                        SignInThrottle.blocked_until <= now,
                    ),
                )
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
        return int(purged or 0)

    # -- the statement -------------------------------------------------------------------

    def _count(self, kind: str, keys: Sequence[str], now: datetime | None) -> list[Verdict]:
        with self.session.atomic():
            # An attempt is timed when it is counted, once this transaction holds SQLite's
            # write lock: a time taken before queueing for it could fall after the block
            # that an attempt counted earlier set, and let this one through.
            connection = self.session.connection()
            now = now or utcnow()
            statement = _upsert(connection.dialect.name, self._steps())
            rows = [
                connection.execute(statement, self._parameters(kind, key, now)).one()
                for key in keys
            ]
            if secrets.randbelow(PURGE_ONE_IN) == 0:
                self.purge(now=now)
        return [
            Verdict(
                kind,
                key,
                row.failures,
                row.blocked_until,
                bool(row.last_refused),
                self.threshold(key),
                now,
            )
            for key, row in zip(keys, rows, strict=True)
        ]

    def _steps(self) -> int:
        """How many doublings of the delay reach the cap."""
        steps = 0
        while self.base * 2**steps < self.cap:
            steps += 1
        return steps

    def _parameters(self, kind: str, key: str, now: datetime) -> dict[str, object]:
        """The values of ``_upsert``'s parameters for one attempt at ``key``."""
        threshold = self.threshold(key)
        ladder: dict[str, object] = {}
        for step, over in enumerate(range(self._steps(), -1, -1)):
            ladder[f"p_from_{step}"] = threshold + over
            ladder[f"p_until_{step}"] = now + timedelta(seconds=self.delay(threshold + over, key))
        return {
            "p_kind": kind,
            "p_key": key,
            "p_now": now,
            "p_stale_before": now - self.window,
            "p_first_until": self._until(1, key, now),
            **ladder,
        }

    def _until(self, failures: int, key: str, now: datetime) -> datetime | None:
        seconds = self.delay(failures, key)
        return now + timedelta(seconds=seconds) if seconds > 0 else None

    def _record_start(self, verdict: Verdict, actor: Actor) -> None:
        AuditLog(self.session).record(
            actor,
            "sign_in.throttled",
            target_type=_target_type(verdict.key),
            target_id=_target_id(verdict.key),
            changes={
                "kind": verdict.kind,
                "failures": verdict.failures,
                "until": verdict.blocked_until.isoformat() if verdict.blocked_until else None,
            },
        )


_TABLE = SignInThrottle.__table__
_END_STREAK = delete(_TABLE).where(
    _TABLE.c.kind == bindparam("p_kind"), _TABLE.c.key == bindparam("p_key")
)
_FORGIVE = (
    update(_TABLE)
    .where(
        _TABLE.c.kind == bindparam("p_kind"),
        _TABLE.c.key == bindparam("p_key"),
        _TABLE.c.failures > 0,
    )
    .values(failures=_TABLE.c.failures - 1)
)


@functools.cache
def _upsert(dialect: str, steps: int) -> Any:
    """One more attempt for a key, as one statement returning the new state; built once per
    dialect and length of the delay ladder, its values given as parameters (``_parameters``)."""
    c = _TABLE.c
    now = bindparam("p_now", type_=c.last_failure_at.type)
    stale = c.last_failure_at <= bindparam("p_stale_before", type_=c.last_failure_at.type)
    blocked = c.blocked_until > now
    next_failures = case((stale, 1), else_=c.failures + 1)
    # ``now + delay(failures)`` as SQL: one branch per doubling up to the cap, highest first.
    ladder = case(
        *(
            (
                next_failures >= bindparam(f"p_from_{step}", type_=Integer),
                bindparam(f"p_until_{step}", type_=c.blocked_until.type),
            )
            for step in range(steps + 1)
        ),
        else_=null(),
    )
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # In SET every column on the right is the row's value before the update.
    return (
        insert(_TABLE)
        .values(
            kind=bindparam("p_kind"),
            key=bindparam("p_key"),
            failures=1,
            first_failure_at=now,
            last_failure_at=now,
            blocked_until=bindparam("p_first_until", type_=c.blocked_until.type),
            last_refused=False,
        )
        .on_conflict_do_update(
            index_elements=[c.kind, c.key],
            set_={
                "failures": next_failures,
                "first_failure_at": case((stale, now), else_=c.first_failure_at),
                "last_failure_at": now,
                "blocked_until": case((blocked, c.blocked_until), else_=ladder),
                "last_refused": case((blocked, true()), else_=false()),
            },
        )
        .returning(c.failures, c.blocked_until, c.last_refused)
    )


def _target_type(key: str) -> str:
    if key.startswith(ACCOUNT_PREFIX):
        return "user"
    if key.startswith(ADDRESS_PREFIX):
        return "address"
    return "sign-in name"


def _target_id(key: str) -> str:
    return key.split(":", 1)[1]


class Attempt:
    """One guess at an account from a client address, counted for both before it is verified.

    attempt = Attempt(throttle, PASSWORD, account, address_key(address), actor)
    attempt.begin()        # raises Throttled, unverified, while either key is waiting
    ...verify...
    attempt.succeeded()    # or attempt.failed()
    """

    def __init__(
        self, throttle: Throttle, kind: str, account: str, address: str | None, actor: Actor
    ) -> None:
        self.throttle = throttle
        self.kind = kind
        self.account = account
        self.address = address
        self.actor = actor
        self.verdicts: list[Verdict] = []

    def begin(self) -> None:
        keys = [self.account] + ([self.address] if self.address else [])
        self.verdicts = self.throttle.attempt_all(self.kind, keys)
        refused = [v for v in self.verdicts if v.refused]
        if refused:
            raise Throttled(max(v.retry_after for v in refused))

    def succeeded(self, *, commit: bool = True) -> None:
        self.throttle.succeeded(self.kind, self.account, forgiven=self.address, commit=commit)

    def failed(self) -> None:
        for verdict in self.verdicts:
            self.throttle.rejected(verdict, actor=self.actor)
