"""Deliveries under a lease: one sender at a time, taken again when a sender died."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from starlette.testclient import TestClient

from ostiary.db.types import utcnow
from ostiary.runtime import Runtime
from ostiary.webhooks.delivery import Attempt
from ostiary.webhooks.worker import DeliveryQueue, WebhookWorker
from tests.helpers import make_user, root_id
from tests.webhooks.conftest import subscribe
from tests.webhooks.receiver import Receiver


def test_a_lease_that_runs_out_lets_another_worker_take_the_delivery(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    subscribe(client, root_id(client), hook.url)
    make_user(client, "leased")
    now = utcnow()
    first = DeliveryQueue(runtime, clock=lambda: now).claim()
    assert first is not None and first.attempts == 1
    assert DeliveryQueue(runtime, clock=lambda: now + timedelta(seconds=60)).claim() is None
    later = now + timedelta(seconds=runtime.settings.webhooks_lease_seconds + 1)
    second = DeliveryQueue(runtime, clock=lambda: later).claim()
    assert second is not None and second.delivery_id == first.delivery_id
    assert second.attempts == 2 and second.body == first.body
    # The first worker comes back too late: its outcome is not recorded over the second's.
    queue = DeliveryQueue(runtime, clock=lambda: later)
    assert queue.settle(first, Attempt(status=200)) == "lost"
    assert queue.settle(second, Attempt(status=204)) == "delivered"


def test_workers_side_by_side_send_each_delivery_once(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    subscribe(client, root_id(client), hook.url)
    for i in range(12):
        make_user(client, f"crowd{i:02d}")
    workers = [WebhookWorker(runtime) for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        reports = list(pool.map(lambda worker: worker.run_once(), workers))
    assert sum(report.delivered for report in reports) == 12
    ids = [r.id for r in hook.received]
    assert len(ids) == 12 and len(set(ids)) == 12
