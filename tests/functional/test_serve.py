"""A real server: ``ostiary serve --workers 2`` over HTTP, writes from many clients at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import text

from ostiary.db.engine import make_engine
from ostiary.db.models import metadata
from ostiary.server import free_port
from tests.conftest import ADMIN_PASSWORD, Database


@pytest.fixture
def server(database: Database, tmp_path: Path) -> Iterator[str]:
    url = database.fresh_url(tmp_path)
    if database.backend == "postgresql":
        engine = make_engine(url)
        with engine.begin() as connection:
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} CASCADE"))
        engine.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    env.update(
        OSTIARY_DATABASE_URL=url,
        OSTIARY_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        OSTIARY_ARGON2_MEMORY_COST_KIB="1024",
        OSTIARY_ARGON2_TIME_COST="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "ostiary.cli", "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            process.terminate()
            pytest.fail(f"server did not start: {process.communicate()[0]}")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_two_workers_take_concurrent_writes(server: str) -> None:
    auth = ("admin", ADMIN_PASSWORD)
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}

    def create(i: int) -> int:
        body = {"username": f"parallel{i:03d}", "domain": "CSP", "email": f"p{i}@example.com"}
        return httpx.post(f"{server}/api/v1/users", json=body, auth=auth, timeout=60).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(create, range(60)))
    assert statuses == [201] * 60
    listed = httpx.get(
        f"{server}/api/v1/users", params={"username": "parallel", "limit": 100}, auth=auth
    ).json()
    assert len(listed["items"]) == 60
    events = httpx.get(
        f"{server}/api/v1/audit-events", params={"action": "user.created", "limit": 100}, auth=auth
    ).json()["items"]
    assert len([e for e in events if e["changes"]["username"].startswith("parallel")]) == 60


def test_a_change_of_rights_reaches_every_worker_at_once(server: str) -> None:
    auth = ("admin", ADMIN_PASSWORD)
    root = httpx.get(f"{server}/api/v1/contexts", params={"type": "root"}, auth=auth).json()[
        "items"
    ][0]["id"]
    created = httpx.post(
        f"{server}/api/v1/users",
        json={
            "username": "staff",
            "domain": "CSP",
            "status": "active",
            "context_ids": [root],
            "password": "a password for the crew",
        },
        auth=auth,
    ).json()
    admins = httpx.get(f"{server}/api/v1/contexts/{root}/groups", auth=auth).json()[0]["id"]
    httpx.put(f"{server}/api/v1/contexts/{root}/groups/{admins}/members/{created['id']}", auth=auth)
    staff = ("staff", "a password for the crew")
    with ThreadPoolExecutor(8) as pool:
        before = list(
            pool.map(
                lambda _: httpx.get(f"{server}/api/v1/users", auth=staff).status_code, range(24)
            )
        )
    assert before == [200] * 24
    httpx.delete(
        f"{server}/api/v1/contexts/{root}/groups/{admins}/members/{created['id']}", auth=auth
    )
    with ThreadPoolExecutor(8) as pool:
        after = list(
            pool.map(
                lambda _: httpx.get(f"{server}/api/v1/users", auth=staff).status_code, range(24)
            )
        )
    assert after == [403] * 24
