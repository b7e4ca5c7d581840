"""Throttling: growing delays, counted atomically on both databases, never a permanent lock."""

from __future__ import annotations

import contextlib
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.authn import throttle as throttle_module
from ostiary.authn.throttle import (
    PASSWORD,
    SignInThrottle,
    Throttle,
    account_key,
    address_key,
    name_key,
)
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.runtime import Runtime

ACTOR = Actor("tester", "web", client_address="192.0.2.1")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "throttle_account_failures": 5,
        "throttle_address_failures": 20,
        "throttle_base_seconds": 2,
        "throttle_max_seconds": 60,
        "throttle_window_minutes": 30,
    }


def throttle(session: OstiarySession, runtime: Runtime) -> Throttle:
    return Throttle(session, runtime.settings)


def test_delays_start_at_the_threshold_double_and_stop_at_the_cap(
    runtime: Runtime, session: OstiarySession
) -> None:
    t = throttle(session, runtime)
    key = account_key(uuid.uuid4())
    assert [t.delay(n, key) for n in range(3, 12)] == [0, 0, 2, 4, 8, 16, 32, 60, 60]
    assert t.delay(5, "address:192.0.2.1") == 0 and t.delay(20, "address:192.0.2.1") == 2
    assert t.delay(10**6, key) == 60


def test_check_failed_succeeded(runtime: Runtime, session: OstiarySession) -> None:
    t = throttle(session, runtime)
    key = account_key(uuid.uuid4())
    start = utcnow()
    for n in range(1, 5):
        verdict = t.failed(PASSWORD, key, actor=ACTOR, now=start)
        assert verdict.failures == n and verdict.retry_after == 0
        assert t.check(PASSWORD, key, now=start).allowed
    fifth = t.failed(PASSWORD, key, actor=ACTOR, now=start)
    assert fifth.starts_throttling and fifth.retry_after == 2
    waiting = t.check(PASSWORD, key, now=start + timedelta(seconds=1))
    assert not waiting.allowed and waiting.retry_after == 1
    later = start + timedelta(seconds=2)
    assert t.check(PASSWORD, key, now=later).allowed
    assert t.failed(PASSWORD, key, actor=ACTOR, now=later).retry_after == 4
    t.succeeded(PASSWORD, key)
    assert t.check(PASSWORD, key, now=later).allowed
    assert t.state(key) == []
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "sign_in.throttled")
    ).all()
    assert len(events) == 1
    assert events[0].target_type == "user" and events[0].changes["failures"] == 5


def test_an_attempt_while_waiting_is_refused_and_does_not_extend_the_wait(
    runtime: Runtime, session: OstiarySession
) -> None:
    t = throttle(session, runtime)
    key = account_key(uuid.uuid4())
    start = utcnow()
    verdicts = [t.attempt(PASSWORD, key, now=start) for _ in range(5)]
    assert [v.refused for v in verdicts] == [False] * 5
    assert verdicts[-1].blocked_until == start + timedelta(seconds=2)
    # Hammering while blocked: each attempt is counted, refused, and the wait stays put.
    for second in (0.5, 1.0, 1.5):
        refused = t.attempt(PASSWORD, key, now=start + timedelta(seconds=second))
        assert refused.refused and refused.blocked_until == start + timedelta(seconds=2)
    assert refused.failures == 8
    # Once the wait is over the next attempt is verified (and sets a longer wait).
    after = t.attempt(PASSWORD, key, now=start + timedelta(seconds=2))
    assert after.allowed and after.failures == 9 and after.retry_after == 2 * 2 ** (9 - 5)


def test_a_streak_is_forgotten_after_the_window(runtime: Runtime, session: OstiarySession) -> None:
    t = throttle(session, runtime)
    key = account_key(uuid.uuid4())
    start = utcnow()
    for _ in range(7):
        t.failed(PASSWORD, key, now=start)
    much_later = start + timedelta(minutes=31)
    assert t.check(PASSWORD, key, now=much_later).allowed
    fresh = t.failed(PASSWORD, key, now=much_later)
    assert fresh.failures == 1 and fresh.retry_after == 0


def test_forgive_takes_one_attempt_back(runtime: Runtime, session: OstiarySession) -> None:
    t = throttle(session, runtime)
    key = address_key("192.0.2.7")
    assert key == "address:192.0.2.7"
    for _ in range(3):
        t.attempt(PASSWORD, key)
    t.forgive(PASSWORD, key)
    assert t.check(PASSWORD, key).failures == 2


def test_keys() -> None:
    secret = b"k" * 32
    assert name_key(" Alice ", secret) == name_key("alice", secret) != name_key("bob", secret)
    assert "alice" not in name_key("alice", secret)
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff") == "address:2001:db8::/64"
    assert address_key("::ffff:192.0.2.1") == "address:192.0.2.1"
    assert address_key(None) is None


def test_an_administrator_clears_a_key(runtime: Runtime, session: OstiarySession) -> None:
    t = throttle(session, runtime)
    user_id = uuid.uuid4()
    key = account_key(user_id)
    for _ in range(6):
        t.failed(PASSWORD, key)
        t.failed("code", key)
    assert {row.kind for row in t.state(key)} == {PASSWORD, "code"}
    assert t.clear(key, actor=ACTOR) == 2
    assert t.state(key) == []
    cleared = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "sign_in.throttle_cleared")
    ).one()
    assert cleared.target_id == str(user_id)


def _in_threads(runtime: Runtime, count: int, work) -> list:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(min(count, 20))

    def one(_: int) -> object:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)
        with runtime.sessions() as session:
            return work(Throttle(session, runtime.settings))

    with ThreadPoolExecutor(max_workers=20) as pool:
        return list(pool.map(one, range(count)))


def test_a_hundred_parallel_failures_count_as_a_hundred(runtime: Runtime) -> None:
    key = account_key(uuid.uuid4())
    verdicts = _in_threads(runtime, 100, lambda t: t.failed(PASSWORD, key, actor=ACTOR))
    assert sorted(v.failures for v in verdicts) == list(range(1, 101))
    with runtime.sessions() as session:
        row = session.get(SignInThrottle, (PASSWORD, key))
        assert row is not None and row.failures == 100
        starts = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "sign_in.throttled")
        ).all()
        assert len(starts) == 1


def test_parallel_attempts_beyond_the_threshold_are_refused_unverified(runtime: Runtime) -> None:
    key = account_key(uuid.uuid4())
    verdicts = _in_threads(runtime, 100, lambda t: t.attempt(PASSWORD, key))
    assert sorted(v.failures for v in verdicts) == list(range(1, 101))
    # Only the attempts up to the threshold were let through to be verified.
    assert sum(v.allowed for v in verdicts) == 5


def test_streaks_that_are_over_are_purged(
    runtime: Runtime, session: OstiarySession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counting purges too, once in PURGE_ONE_IN times at random: not while this test counts.
    monkeypatch.setattr(throttle_module, "PURGE_ONE_IN", 2**62)
    t = throttle(session, runtime)
    old, recent = account_key(uuid.uuid4()), address_key("192.0.2.9")
    assert recent is not None
    long_ago = utcnow() - timedelta(minutes=31)
    t.failed(PASSWORD, old, now=long_ago)
    t.failed(PASSWORD, recent)
    assert t.purge() == 1
    assert t.state(old) == [] and len(t.state(recent)) == 1
