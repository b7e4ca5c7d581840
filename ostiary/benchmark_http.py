"""Ostiary served by uvicorn in a process of its own, and a lean client, for benchmarks.

Latencies over HTTP are measured against the real server (one worker, as ``ostiary serve``
runs it) from a plain keep-alive ``http.client`` connection: a test client in the same
process, or a feature-rich client library, would add more time than the goals allow.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ostiary.server import free_port, one_worker_command
from ostiary.settings import Settings

HOST = "127.0.0.1"


class ServerError(RuntimeError):
    pass


@dataclass(frozen=True)
class Reply:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class KeepAliveClient:
    """One persistent HTTP/1.1 connection, with HTTP Basic on every request."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self._connection = http.client.HTTPConnection(HOST, port, timeout=60)
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}

    def get(self, path: str, params: dict[str, str] | None = None) -> Reply:
        if params:
            path = f"{path}?{urlencode(params)}"
        return self._send("GET", path, None, self._headers)

    def post(self, path: str, body: Any) -> Reply:
        headers = {**self._headers, "Content-Type": "application/json"}
        return self._send("POST", path, json.dumps(body).encode(), headers)

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Reply:
        self._connection.request(method, path, body=body, headers=headers)
        response = self._connection.getresponse()
        return Reply(response.status, response.read())

    def close(self) -> None:
        self._connection.close()


def server_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the environment of an ``ostiary`` process."""
    env = {
        **os.environ,
        "OSTIARY_DATABASE_URL": str(settings.effective_database_url),
        "OSTIARY_DATA_DIR": str(settings.data_dir),
        "OSTIARY_SECRET_KEY": settings.effective_secret_key.decode(),
        "OSTIARY_BOOTSTRAP_ADMIN_NETWORKS": settings.bootstrap_admin_networks,
    }
    if settings.bootstrap_admin_password is not None:
        env["OSTIARY_BOOTSTRAP_ADMIN_PASSWORD"] = (
            settings.bootstrap_admin_password.get_secret_value()
        )
    return env


@contextmanager
def served(settings: Settings) -> Iterator[int]:
    """uvicorn with one worker on a free port of 127.0.0.1; yields the port."""
    port = free_port(HOST)
    command = one_worker_command(HOST, port)
    process = subprocess.Popen(command, env=server_environment(settings))
    try:
        _wait_until_up(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"the server exited with status {process.returncode}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            time.sleep(0.1)
    raise ServerError("the server did not start within 60 s")
