"""The outbox: a message is committed with the change that caused it, sent by a worker,
retried with backoff, and never lost or sent twice by one crash."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ostiary.audit.models import AuditEvent
from ostiary.db.session import OstiarySession
from ostiary.errors import RuleViolation
from ostiary.messages.delivery import Delivery, DeliveryError, Mode, Outgoing
from ostiary.messages.models import Message, MessageState
from ostiary.messages.outbox import MessageWorker, Outbox
from ostiary.messages.purposes import Channel
from ostiary.messages.services import Messages
from ostiary.runtime import Runtime
from tests.messages.support import CODE, Clock, make_user


class Recording:
    """A transport that keeps what it was given; fails as scripted (None: success)."""

    def __init__(self, name: Mode = "smtp", script: list[DeliveryError | None] | None = None):
        self.name: Mode = name
        self.sent: list[Outgoing] = []
        self.script = list(script or [])
        self.delay = 0.0
        self.lock = threading.Lock()

    def send(self, message: Outgoing) -> None:
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            outcome = self.script.pop(0) if self.script else None
            if outcome is not None:
                raise outcome
            self.sent.append(message)


def worker(runtime: Runtime, transport: Recording, clock: Clock | None = None) -> MessageWorker:
    delivery = Delivery({Channel.EMAIL: transport, Channel.SMS: transport})
    return MessageWorker(runtime, delivery, clock=clock or Clock())


def count(runtime: Runtime, **where: object) -> int:
    with runtime.sessions() as session:
        stmt = select(func.count()).select_from(Message).filter_by(**where)
        return int(session.scalar(stmt) or 0)


def only_message(runtime: Runtime) -> Message:
    """The one message in the outbox, read in a session of its own: on SQLite an open
    transaction holds the write lock the workers need."""
    with runtime.sessions() as session:
        return session.scalars(select(Message)).one()


def queue(runtime: Runtime, n: int = 1, to: str = "jane@example.com") -> None:
    with runtime.sessions() as session, session.atomic():
        for _ in range(n):
            Messages(session, runtime).send("second-factor-code", to, CODE)


def test_a_rolled_back_change_sends_nothing(runtime: Runtime, session: OstiarySession) -> None:
    runtime.messages_due.clear()
    with pytest.raises(RuntimeError), session.atomic():
        user = make_user(runtime, session, "rolledback")
        Messages(session, runtime).send("second-factor-code", user, CODE)
        raise RuntimeError("the change fails after the message was queued")
    assert count(runtime) == 0 and not runtime.messages_due.is_set()
    transport = Recording()
    assert worker(runtime, transport).run_once().handled == 0 and transport.sent == []


def test_a_committed_message_is_sent_once_and_its_content_erased(
    runtime: Runtime, session: OstiarySession
) -> None:
    runtime.messages_due.clear()
    with session.atomic():
        user = make_user(runtime, session, "jane", first_name="Jane", language="de")
        message = Messages(session, runtime).send("second-factor-code", user, CODE)
    # The commit woke this process's worker.
    assert runtime.messages_due.is_set()
    transport = Recording()
    report = worker(runtime, transport).run_once()
    assert (report.sent, report.failed, report.retrying) == (1, 0, 0)
    [sent] = transport.sent
    assert sent.id == message.id and sent.recipient == "jane@example.com"
    assert sent.subject == "Ihr Anmeldecode: 482913" and "Guten Tag Jane" in sent.text
    assert sent.html is not None and "482913" in sent.html
    # Sent: not again, and the code and the full address are gone from the database.
    assert worker(runtime, transport).run_once().handled == 0 and len(transport.sent) == 1
    row = only_message(runtime)
    assert row.state == MessageState.SENT and row.transport == "smtp"
    assert (row.subject, row.text, row.html) == (None, None, None)
    assert row.recipient == "j***@example.com" and row.attempts == 1


def test_failures_are_retried_with_growing_delays(
    runtime: Runtime, session: OstiarySession
) -> None:
    queue(runtime)
    clock = Clock()
    transport = Recording(script=[DeliveryError("421 try later"), DeliveryError("timed out")])
    sender = worker(runtime, transport, clock)
    assert sender.run_once().retrying == 1
    row = only_message(runtime)
    base = runtime.settings.message_retry_seconds
    assert row.due_at == clock.now + timedelta(seconds=base)
    assert row.last_error == "421 try later" and row.claimed_until is None
    assert sender.run_once().handled == 0  # not due yet
    clock.advance(base)
    assert sender.run_once().retrying == 1
    row = only_message(runtime)
    assert row.due_at == clock.now + timedelta(seconds=2 * base)
    clock.advance(2 * base - 1)
    assert sender.run_once().handled == 0
    clock.advance(1)
    assert sender.run_once().sent == 1
    row = only_message(runtime)
    assert row.state == MessageState.SENT and row.attempts == 3 and row.last_error is None


def test_permanent_failures_and_the_attempt_limit_fail_the_message_and_are_audited(
    runtime: Runtime, session: OstiarySession
) -> None:
    runtime.settings.message_max_attempts = 2
    queue(runtime, to="nobody@example.com")
    refused = DeliveryError("550 <nobody@example.com>: no such user", permanent=True)
    assert worker(runtime, Recording(script=[refused])).run_once().failed == 1
    failed = only_message(runtime)
    assert failed.state == MessageState.FAILED and failed.attempts == 1
    assert failed.last_error == "550 <n***@example.com>: no such user"
    assert failed.text is None and failed.recipient == "n***@example.com"

    queue(runtime, to="+41446681800")
    clock = Clock()
    transport = Recording(script=[DeliveryError("503 gateway down")] * 2)
    sender = worker(runtime, transport, clock)
    assert sender.run_once().retrying == 1
    clock.advance(runtime.settings.message_retry_seconds)
    assert sender.run_once().failed == 1

    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "message.failed").order_by(AuditEvent.id)
    ).all()
    assert [e.changes["recipient"] for e in events] == ["n***@example.com", "+41*******00"]
    assert [e.changes["attempts"] for e in events] == [1, 2]
    assert events[1].changes["error"] == "503 gateway down"
    assert all("482913" not in str(e.changes) for e in events)


def test_a_worker_that_died_after_claiming_loses_nothing(
    runtime: Runtime, session: OstiarySession
) -> None:
    queue(runtime)
    clock = Clock()
    # The first worker claims the message and dies before sending.
    claim = Outbox(runtime, clock=clock).claim()
    assert claim is not None
    transport = Recording()
    other = worker(runtime, transport, clock)
    assert other.run_once().handled == 0  # the lease still holds
    clock.advance(runtime.settings.message_lease_seconds)
    assert other.run_once().sent == 1
    assert [m.id for m in transport.sent] == [claim.message.id]
    assert only_message(runtime).attempts == 2


def test_a_message_whose_every_attempt_died_is_given_up(
    runtime: Runtime, session: OstiarySession
) -> None:
    runtime.settings.message_max_attempts = 2
    queue(runtime)
    clock = Clock()
    outbox = Outbox(runtime, clock=clock)
    for _ in range(2):
        assert outbox.claim() is not None  # and the worker dies
        clock.advance(runtime.settings.message_lease_seconds)
    transport = Recording()
    assert worker(runtime, transport, clock).run_once().handled == 0 and transport.sent == []
    row = only_message(runtime)
    assert row.state == MessageState.FAILED and "lease expired" in (row.last_error or "")


def test_a_send_that_outlives_its_lease_is_reported(
    runtime: Runtime, session: OstiarySession
) -> None:
    """The one way to send twice: a send slower than the lease (docs/messages.md)."""
    queue(runtime)
    clock = Clock()
    slow = Outbox(runtime, clock=clock)
    claim = slow.claim()
    assert claim is not None
    clock.advance(runtime.settings.message_lease_seconds)
    transport = Recording()
    assert worker(runtime, transport, clock).run_once().sent == 1
    assert slow.mark_sent(claim, transport) is False
    assert slow.mark_failed(claim, DeliveryError("late")) == "lost"
    row = only_message(runtime)
    assert row.state == MessageState.SENT and row.last_error is None


def test_two_workers_never_send_one_message_twice(runtime: Runtime) -> None:
    queue(runtime, 40)
    transport = Recording()
    transport.delay = 0.005
    workers = [worker(runtime, transport) for _ in range(3)]
    start = threading.Barrier(len(workers))
    reports = []

    def run(w: MessageWorker) -> None:
        start.wait()
        reports.append(w.run_once())

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    sent = Counter(m.id for m in transport.sent)
    assert len(sent) == 40 and set(sent.values()) == {1}
    assert sum(r.sent for r in reports) == 40
    # More than one worker did some of the work.
    assert sum(1 for r in reports if r.sent) >= 2
    assert count(runtime, state=MessageState.SENT) == 40


def test_sending_needs_a_way_out(runtime: Runtime, session: OstiarySession) -> None:
    messages = Messages(session, runtime)
    assert messages.available("email") and messages.available(Channel.SMS)
    runtime.settings.dev_outbox = False
    assert not messages.available("sms")
    with pytest.raises(RuleViolation) as caught:
        messages.send("second-factor-code", "+41446681800", CODE)
    assert caught.value.field == "channel"


def test_send_takes_address_language_and_name_from_the_user(
    runtime: Runtime, session: OstiarySession
) -> None:
    user = make_user(
        runtime,
        session,
        "tom",
        first_name="Tom",
        last_name="Tailor",
        phone="+41446681800",
        language="de-CH",
    )
    messages = Messages(session, runtime)
    sms = messages.send("second-factor-code", user, CODE, channel="sms")
    assert (sms.recipient, sms.language, sms.user_id) == ("+41446681800", "de", user.id)
    assert sms.text == "482913 ist Ihr Anmeldecode. Er ist 5 Minuten gültig."
    mail = messages.send("password-changed", user, language="en")
    assert mail.recipient == "tom@example.com" and mail.language == "en"
    assert mail.text is not None and mail.text.startswith("Hello Tom Tailor,")
    bare = messages.send("second-factor-code", "someone@example.com", CODE)
    assert bare.channel == "email" and bare.language == "en" and bare.user_id is None
    with pytest.raises(ValueError):
        messages.send("second-factor-code", user, {"code": "1"})
    with pytest.raises(ValueError):
        messages.send("password-reset", user, {"link": "x", "minutes": 5}, channel="sms")
    nophone = make_user(runtime, session, "nophone")
    with pytest.raises(RuleViolation) as caught:
        messages.send("second-factor-code", nophone, CODE, channel="sms")
    assert caught.value.field == "phone"
