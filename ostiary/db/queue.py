"""Rows that background workers take one at a time under a lease: the message outbox and the
webhook deliveries.

A worker claims a due row by setting a lease (``claimed_until``) and a claim token in a short
transaction: on PostgreSQL with ``SELECT ... FOR UPDATE SKIP LOCKED``, so that workers on
several nodes take different rows without waiting for each other; on SQLite inside the write
lock that every transaction takes (``BEGIN IMMEDIATE``), so that claims are serialised. The
work itself runs with no transaction open, and the outcome is settled only while the claim
token still matches: a row whose worker died becomes due again when its lease runs out.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, or_, select

logger = logging.getLogger("ostiary.queue")

Clock = Callable[[], datetime]
PENDING = "pending"


class Leased(Protocol):
    """The columns a queue row has (the mapped class's attributes)."""

    id: Any
    state: Any
    due_at: Any
    claimed_until: Any
    claim_token: Any
    attempts: Any


def due(model: type[Leased], now: datetime, *where: ColumnElement[bool]) -> Select[Any]:
    """Pending rows whose time has come and that no live lease holds, oldest first."""
    due_at, claimed = model.due_at, model.claimed_until
    return (
        select(model)
        .where(
            model.state == PENDING,
            due_at <= now,
            or_(claimed.is_(None), claimed <= now),
            *where,
        )
        .order_by(due_at, model.id)
    )


def lease(row: Leased, now: datetime, seconds: float) -> uuid.UUID:
    """Take ``row`` for one attempt; the token proves the claim when the outcome is settled."""
    row.attempts += 1
    row.claim_token = uuid.uuid4()
    row.claimed_until = now + timedelta(seconds=seconds)
    token: uuid.UUID = row.claim_token
    return token


def release(row: Leased) -> None:
    row.claimed_until = None
    row.claim_token = None


def retry_delay(attempts: int, first: float, maximum: float, *, jitter: bool = False) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: doubling from ``first``
    up to ``maximum``; with ``jitter`` a random share of it ("full jitter" halved), so that
    many rows failing together do not all come back at the same moment."""
    delay = min(first * 2 ** max(attempts - 1, 0), maximum)
    if jitter:
        delay = delay / 2 + random.uniform(0, delay / 2)
    return delay


class PollingThread:
    """Runs ``work`` in a daemon thread whenever ``wakeup`` is set and every ``poll`` seconds,
    until stopped; the first time after ``first_wait`` seconds (at once by default)."""

    def __init__(
        self,
        name: str,
        work: Callable[[], object],
        wakeup: threading.Event,
        poll: float,
        *,
        first_wait: float = 0.0,
    ) -> None:
        self.name = name
        self.work = work
        self.wakeup = wakeup
        self.poll = poll
        self.first_wait = first_wait
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self.stopping.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self.stopping.set()
        self.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        if self.first_wait > 0:
            self.wakeup.wait(self.first_wait)
        while not self.stopping.is_set():
            self.wakeup.clear()
            try:
                self.work()
            except Exception:
                logger.exception("the %s worker failed; it tries again", self.name)
            self.wakeup.wait(self.poll)
