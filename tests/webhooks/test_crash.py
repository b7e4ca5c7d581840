"""Nothing is lost: ``ostiary serve`` killed with SIGKILL while a receiver holds a delivery's
request open sends that delivery again, under the same webhook-id, once it runs again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import text

from ostiary.db.engine import make_engine
from ostiary.db.models import metadata
from ostiary.server import free_port
from tests.conftest import ADMIN_PASSWORD, Database
from tests.webhooks.receiver import Receiver

AUTH = ("admin", ADMIN_PASSWORD)


@contextmanager
def serving(url: str, cwd: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    env.update(
        OSTIARY_DATABASE_URL=url,
        OSTIARY_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        OSTIARY_ARGON2_MEMORY_COST_KIB="1024",
        OSTIARY_ARGON2_TIME_COST="1",
        OSTIARY_WEBHOOKS_ALLOW_LOOPBACK="true",
        OSTIARY_WEBHOOKS_LEASE_SECONDS="10",
        OSTIARY_WEBHOOKS_POLL_SECONDS="0.5",
        OSTIARY_WEBHOOKS_TIMEOUT_SECONDS="8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "ostiary.cli", "serve", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("the server did not start")
            time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def _wait(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail("timed out")
        time.sleep(0.1)


@pytest.fixture
def database_url(database: Database, tmp_path: Path) -> str:
    url = database.fresh_url(tmp_path)
    if database.backend == "postgresql":
        engine = make_engine(url)
        with engine.begin() as connection:
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} CASCADE"))
        engine.dispose()
    return url


def test_a_delivery_cut_off_by_a_crash_arrives_after_the_restart(
    database_url: str, tmp_path: Path, hook: Receiver
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    with serving(database_url, tmp_path, port) as process:
        root = httpx.get(f"{base}/contexts", params={"type": "root"}, auth=AUTH).json()["items"][0]
        sub = httpx.post(
            f"{base}/webhooks", json={"context_id": root["id"], "url": hook.url}, auth=AUTH
        ).json()
        hook.hold.set()  # the receiver takes the request and does not answer
        created = httpx.post(
            f"{base}/users",
            json={"username": "survivor", "domain": "CSP", "email": "s@example.com"},
            auth=AUTH,
        )
        assert created.status_code == 201
        assert hook.arrived.wait(30), "the delivery was not sent"
        os.killpg(process.pid, signal.SIGKILL)  # mid-delivery
        process.wait(timeout=30)
    hook.hold.clear()
    (first,) = hook.received
    first.verified(sub["secret"])

    with serving(database_url, tmp_path, port):
        _wait(lambda: len(hook.received) >= 2, 60)
        again = hook.received[1]
        assert again.id == first.id and again.body == first.body
        assert again.verified(sub["secret"])["type"] == "user.created"

        def delivered() -> bool:
            items = httpx.get(f"{base}/webhooks/{sub['id']}/deliveries", auth=AUTH).json()
            return bool(items["items"]) and items["items"][0]["state"] == "delivered"

        _wait(delivered, 30)
    assert len({r.id for r in hook.received}) == 1
