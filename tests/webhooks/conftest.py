"""Webhook tests run the worker themselves (``deliver``), on receivers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from ostiary.db.types import utcnow
from ostiary.runtime import Runtime
from ostiary.webhooks.worker import Report, WebhookWorker
from tests.webhooks.receiver import Receiver, receiver


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"webhooks_worker": False, "webhooks_allow_loopback": True}


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


def subscribe(client: TestClient, context_id: str, url: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/webhooks", json={"context_id": context_id, "url": url, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def deliver(runtime: Runtime, at: datetime | None = None) -> Report:
    """Send what is due (at ``at``, when the test moves the clock)."""
    clock = utcnow if at is None else (lambda: at)
    return WebhookWorker(runtime, clock=clock).run_once()
