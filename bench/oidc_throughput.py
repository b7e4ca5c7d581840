"""Throughput of the OpenID provider on one worker process, next to oidc-provider.

    npm ci --prefix bench/peers
    .venv/bin/python bench/oidc_throughput.py --write-docs
    .venv/bin/python bench/oidc_throughput.py --write-docs \\
        --database-url postgresql://postgres@127.0.0.1:5432/ostiary_bench_oidc

Measures, with one load tool for every server: client-credentials tokens per second,
introspections per second, and complete password logins per second (authorize, the login page,
the login form, the code exchanged with PKCE). Ostiary runs as uvicorn with one worker;
oidc-provider (bench/peers, the certified Node.js provider) runs as one Node process on the same
machine in the same run for the first two. The rate at which this machine verifies the
configured argon2id hash on one core is measured in the same run (the goal for logins).

The load tool (below, ``Connection`` and ``run_load``) runs in this process, apart from the
servers: asyncio over raw HTTP/1.1, a fixed number of keep-alive connections each with one
request in flight, a warm-up, then a fixed duration in which only successful responses count
(status and body checked: a token came back, the token is active, the code was issued). The CPU
time of the client, of the server and of the whole machine is read around each measurement.

Without --reuse the database is made anew: the SQLite file under bench/.data/ is removed, or the
PostgreSQL database (its name must start with ostiary_bench) dropped and created.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from ostiary.authn.passwords import Passwords  # noqa: E402
from ostiary.benchmark import (  # noqa: E402
    BENCH_ADMIN_PASSWORD,
    BENCH_SECRET_KEY,
    BenchmarkError,
    bench_settings,
    database_version,
    machine_summary,
)
from ostiary.benchmark import prepare_database as shared_prepare_database  # noqa: E402
from ostiary.runtime import Runtime  # noqa: E402
from ostiary.server import free_port, one_worker_command  # noqa: E402
from ostiary.settings import Settings  # noqa: E402

DATA_DIR = HERE / ".data"
DOCS = ROOT / "docs" / "benchmarks.md"
PEERS = HERE / "peers"
PEER_SCRIPT = PEERS / "oidc_provider_server.mjs"
DEFAULT_URL = f"sqlite:///{DATA_DIR / 'oidc_throughput.db'}"
BENCH_DATABASE_PREFIX = "ostiary_bench"
HOST = "127.0.0.1"

MODULE = "bench"
AUDIENCE = f"urn:ostiary:module:{MODULE}"  # what Ostiary puts in aud for the module's clients
SCOPE = "bench:read"
CC_CLIENT = "bench-service"
WEB_CLIENT = "bench-web"
REDIRECT_URI = "http://127.0.0.1:9/callback"
USER_PASSWORD = "bench login password 1"
LOGIN_GOAL_SHARE = 0.8  # of the one-core argon2id verification rate
PARTS = ("tokens", "introspection", "logins")

Progress = Callable[[str], None]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help="default: %(default)s")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="default: %(default)s")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before counting")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds counted")
    parser.add_argument("--login-duration", type=float, default=None, help="default: --duration")
    parser.add_argument("--rounds", type=int, default=3, help="of the token measurements")
    parser.add_argument("--tokens", type=int, default=500, help="distinct tokens introspected")
    parser.add_argument("--no-peer", action="store_true", help="without oidc-provider")
    parser.add_argument("--only", help=f"some of {','.join(PARTS)} (comma-separated)")
    parser.add_argument("--no-wait", action="store_true", help="time while others benchmark")
    parser.add_argument("--max-load", type=float, default=1.5, help="wait for a lower load")
    parser.add_argument("--max-wait", type=float, default=30, help="minutes, for --max-load")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--write-docs", action="store_true", help=f"put figures into {DOCS.name}")
    return parser.parse_args(argv)


# -- the load tool -----------------------------------------------------------------------


class Failed(Exception):
    """A response that does not count: wrong status, or not what a success carries."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise Failed(f"{self.status}, not JSON: {self.body[:120]!r}") from None


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[Response] | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(cls, host, port)
        return connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            response = self._parse()
            if response is not None:
                self.waiter.set_result(response)

    def _parse(self) -> Response | None:
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if "content-length" in headers:
            stop = start + int(headers["content-length"])
            if len(buffer) < stop:
                return None
            body = bytes(buffer[start:stop])
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks, stop = _chunks(buffer, start)
            if chunks is None:
                return None
            body = chunks
        else:
            body, stop = b"", start
        del buffer[:stop]
        return Response(status, headers, body)

    async def request(self, data: bytes) -> Response:
        if self.transport is None:
            raise ConnectionError("the connection is closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _chunks(buffer: bytearray, start: int) -> tuple[bytes | None, int]:
    body = bytearray()
    at = start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None, 0
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        at = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", at - 2)
            return (bytes(body), trailer_end + 4) if trailer_end >= 0 else (None, 0)
        if len(buffer) < at + size + 2:
            return None, 0
        body += buffer[at : at + size]
        at += size + 2


def http_request(
    method: str,
    target: str,
    host: str,
    headers: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> bytes:
    """The bytes of one request; a form becomes an urlencoded body."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    body = b""
    if form is not None:
        body = urlencode(form).encode()
        lines.append("Content-Type: application/x-www-form-urlencoded")
    if form is not None or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


# An operation: one unit of work on a connection (the k-th connection's i-th); it raises Failed
# (or ConnectionError) when the server's answer does not count.
Operation = Callable[[Connection, int, int], Awaitable[None]]


@dataclass(frozen=True)
class CpuSample:
    at: float  # time.perf_counter()
    client: float  # CPU seconds of this process
    server: float  # CPU seconds of the server process, all its threads
    busy: float  # CPU seconds the whole machine was busy (all CPUs)


def cpu_sample(server_pid: int) -> CpuSample:
    ticks = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{server_pid}/stat") as f:
        # Fields after the command name (which may hold spaces): utime, stime are 14 and 15.
        fields = f.read().rsplit(")", 1)[1].split()
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return CpuSample(
        time.perf_counter(),
        time.process_time(),
        (int(fields[11]) + int(fields[12])) / ticks,
        (sum(values[:8]) - idle) / ticks,
    )


@dataclass(frozen=True)
class Measured:
    server: str
    what: str
    ok: int
    failed: int
    seconds: float
    client_cpu: float  # share of one CPU
    server_cpu: float
    machine_cpu: float  # CPUs busy on the whole machine, these two processes included
    first_failure: str | None = None

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    @property
    def others_cpu(self) -> float:
        return max(0.0, self.machine_cpu - self.client_cpu - self.server_cpu)


async def run_load(
    host: str,
    port: int,
    operation: Operation,
    *,
    connections: int,
    warmup: float,
    duration: float,
    server_pid: int,
) -> tuple[int, int, CpuSample, CpuSample, str | None]:
    """Keep ``connections`` connections busy; count what completes within ``duration`` after
    ``warmup``. A connection the server closes is opened again (its operation failed)."""
    counting = False
    stop = False
    ok = failed = 0
    first_failure: str | None = None

    async def worker(k: int) -> None:
        nonlocal ok, failed, first_failure
        connection = await Connection.open(host, port)
        i = 0
        try:
            while not stop:
                try:
                    await operation(connection, k, i)
                except (Failed, ConnectionError) as exc:
                    if counting:
                        failed += 1
                        first_failure = first_failure or f"{type(exc).__name__}: {exc}"
                    if connection.transport is None or isinstance(exc, ConnectionError):
                        connection.close()
                        connection = await Connection.open(host, port)
                else:
                    if counting:
                        ok += 1
                i += 1
        finally:
            connection.close()

    tasks = [asyncio.create_task(worker(k)) for k in range(connections)]
    try:
        await asyncio.sleep(warmup)
        before = cpu_sample(server_pid)
        counting = True
        await asyncio.sleep(duration)
        counting = False
        after = cpu_sample(server_pid)
        counted = ok, failed
        stop = True
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return counted[0], counted[1], before, after, first_failure


def measure(
    server: Server,
    what: str,
    operation: Operation,
    args: argparse.Namespace,
    duration: float | None = None,
) -> Measured:
    seconds = duration or args.duration
    ok, failed, before, after, first = _run(
        run_load(
            HOST,
            server.port,
            operation,
            connections=args.connections,
            warmup=args.warmup,
            duration=seconds,
            server_pid=server.pid,
        )
    )
    wall = after.at - before.at
    result = Measured(
        server.name,
        what,
        ok,
        failed,
        wall,
        (after.client - before.client) / wall,
        (after.server - before.server) / wall,
        (after.busy - before.busy) / wall,
        first,
    )
    say(
        f"  {server.name}, {what}: {result.rate:,.0f}/s ({failed} failed); CPU: server "
        f"{result.server_cpu:.0%}, client {result.client_cpu:.0%}, others {result.others_cpu:.0%}"
        + (f"; first failure: {first[:200]}" if first else "")
    )
    return result


def _run(coroutine: Awaitable[Any]) -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    return uvloop.run(coroutine)  # type: ignore[arg-type]


# -- operations --------------------------------------------------------------------------


def client_credentials(server: Server, *, resource: str | None, jwt: bool) -> Operation:
    form = {"grant_type": "client_credentials", "scope": SCOPE}
    if resource is not None:
        form["resource"] = resource
    request = http_request(
        "POST", server.token_path, server.host_header, basic(*server.credentials), form
    )

    async def operation(connection: Connection, _k: int, _i: int) -> None:
        response = await connection.request(request)
        token = _token_from(response)
        if jwt and token.count(".") != 2:
            raise Failed("not a JWT access token")

    return operation


def _token_from(response: Response) -> str:
    if response.status != 200:
        raise Failed(f"{response.status}: {response.body[:200]!r}")
    body = response.json()
    token = body.get("access_token")
    if not isinstance(token, str) or not token or str(body.get("token_type")).lower() != "bearer":
        raise Failed(f"no access token: {response.body[:200]!r}")
    return token


def fetch_tokens(server: Server, count: int, *, resource: str | None) -> list[str]:
    form = {"grant_type": "client_credentials", "scope": SCOPE}
    if resource is not None:
        form["resource"] = resource
    request = http_request(
        "POST", server.token_path, server.host_header, basic(*server.credentials), form
    )

    async def fetch() -> list[str]:
        connection = await Connection.open(HOST, server.port)
        try:
            return [_token_from(await connection.request(request)) for _ in range(count)]
        finally:
            connection.close()

    tokens: list[str] = _run(fetch())
    return tokens


def introspection(server: Server, tokens: list[str]) -> Operation:
    headers = basic(*server.credentials)
    requests = [
        http_request(
            "POST", server.introspection_path, server.host_header, headers, {"token": token}
        )
        for token in tokens
    ]

    async def operation(connection: Connection, k: int, i: int) -> None:
        response = await connection.request(requests[(k * 7919 + i) % len(requests)])
        if response.status != 200:
            raise Failed(f"{response.status}: {response.body[:200]!r}")
        body = response.json()
        if body.get("active") is not True or body.get("client_id") != server.credentials[0]:
            raise Failed(f"not active: {response.body[:200]!r}")

    return operation


CSRF = re.compile(rb'name="csrf" value="([^"]+)"')


def password_login(server: Server, users: list[str]) -> Operation:
    """What a browser and a web application do for one login, without the cookie of an earlier
    one: authorize, the login page, the login form, then the code exchanged with PKCE."""
    host = server.host_header
    credentials = basic(WEB_CLIENT, server.web_secret)

    async def operation(connection: Connection, k: int, _i: int) -> None:
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": WEB_CLIENT,
                "redirect_uri": REDIRECT_URI,
                "scope": "openid",
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        response = await connection.request(http_request("GET", f"/oauth2/authorize?{query}", host))
        location = response.headers.get("location", "")
        if response.status != 303 or not location.startswith("/login?flow="):
            raise Failed(f"authorize: {response.status} {location!r}")
        page = await connection.request(http_request("GET", location, host))
        found = CSRF.search(page.body)
        if page.status != 200 or found is None:
            raise Failed(f"login page: {page.status}")
        form = {
            "flow": location.split("=", 1)[1],
            "csrf": found.group(1).decode(),
            "username": users[k % len(users)],
            "password": USER_PASSWORD,
        }
        response = await connection.request(http_request("POST", "/login", host, form=form))
        location = response.headers.get("location", "")
        answer = parse_qs(urlsplit(location).query)
        if (
            response.status != 303
            or not location.startswith(REDIRECT_URI)
            or answer.get("state") != [state]
        ):
            raise Failed(f"login form: {response.status} {location[:120]!r}")
        form = {
            "grant_type": "authorization_code",
            "code": answer["code"][0],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        }
        response = await connection.request(
            http_request("POST", "/oauth2/token", host, credentials, form)
        )
        _token_from(response)
        if not isinstance(response.json().get("id_token"), str):
            raise Failed("no id_token")

    return operation


# -- the one-core argon2id rate ----------------------------------------------------------


@dataclass(frozen=True)
class HashRate:
    per_second: float
    verifications: int
    parameters: str


def argon2_rate(settings: Settings, seconds: float) -> HashRate:
    """Verifications per second of a hash made with the configured parameters, one at a time
    (so on one core), through the same ``Passwords`` class the login uses."""
    passwords = Passwords(settings)
    stored = passwords.hash(USER_PASSWORD)
    assert passwords.verify(stored, USER_PASSWORD)
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or count < 3:
        if not passwords.verify(stored, USER_PASSWORD):
            raise BenchmarkError("argon2id verification failed")
        count += 1
    parameters = (
        f"argon2id, {settings.argon2_memory_cost_kib} KiB, {settings.argon2_time_cost} "
        f"iterations, parallelism {settings.argon2_parallelism}"
    )
    return HashRate(count / elapsed, count, parameters)


# -- the servers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    name: str
    pid: int
    port: int
    token_path: str
    introspection_path: str
    credentials: tuple[str, str]  # of the client-credentials client
    web_secret: str = ""
    version: str = ""

    @property
    def host_header(self) -> str:
        return f"{HOST}:{self.port}"


def _wait_until_up(process: subprocess.Popen[bytes], url: str, what: str) -> None:
    import requests

    for _ in range(400):
        if process.poll() is not None:
            raise BenchmarkError(f"{what} exited with status {process.returncode}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise BenchmarkError(f"{what} did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def ostiary_server(
    url: str, data_dir: Path, port: int, secrets_: dict[str, str]
) -> Iterator[Server]:
    """uvicorn with one worker, in a process of its own."""
    env = {
        **os.environ,
        "OSTIARY_DATABASE_URL": url,
        "OSTIARY_DATA_DIR": str(data_dir),
        "OSTIARY_ISSUER": f"http://{HOST}:{port}",
        "OSTIARY_SECRET_KEY": BENCH_SECRET_KEY,
        "OSTIARY_BOOTSTRAP_ADMIN_PASSWORD": BENCH_ADMIN_PASSWORD,
        "OSTIARY_BOOTSTRAP_ADMIN_NETWORKS": f"{HOST}/32,::1/128",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = one_worker_command(HOST, port)
    process = subprocess.Popen(command, env=env, cwd=data_dir)
    try:
        _wait_until_up(process, f"http://{HOST}:{port}/healthz", "Ostiary")
        yield Server(
            "Ostiary",
            process.pid,
            port,
            "/oauth2/token",
            "/oauth2/introspect",
            (CC_CLIENT, secrets_[CC_CLIENT]),
            secrets_[WEB_CLIENT],
            _ostiary_version(),
        )
    finally:
        _stop(process)


def _ostiary_version() -> str:
    from importlib.metadata import version

    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    import uvicorn

    return f"Ostiary {version('ostiary')} ({head or 'no git'}), uvicorn {uvicorn.__version__}"


def peer_available() -> str | None:
    """Why oidc-provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (PEERS / "node_modules" / "oidc-provider").is_dir():
        return "bench/peers/node_modules is missing: npm ci --prefix bench/peers"
    return None


@contextmanager
def peer_server(port: int) -> Iterator[Server]:
    """oidc-provider, one Node.js process, configured like Ostiary (see the script)."""
    secret = secrets.token_urlsafe(32)
    env = {**os.environ, "NODE_ENV": "production"}
    command = ["node", str(PEER_SCRIPT), str(port), CC_CLIENT, secret, AUDIENCE, SCOPE]
    process = subprocess.Popen(command, env=env, cwd=PEERS, stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(
            process, f"http://{HOST}:{port}/.well-known/openid-configuration", "oidc-provider"
        )
        yield Server(
            "oidc-provider",
            process.pid,
            port,
            "/token",
            "/token/introspection",
            (CC_CLIENT, secret),
            version=_peer_version(),
        )
    finally:
        _stop(process)


def _peer_version() -> str:
    package = json.loads((PEERS / "node_modules" / "oidc-provider" / "package.json").read_text())
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return f"oidc-provider {package['version']}, Node.js {node}"


# -- the data ----------------------------------------------------------------------------


def usernames(count: int) -> list[str]:
    return [f"login{n:02d}" for n in range(count)]


def provision(runtime: Runtime, users: int, data_dir: Path) -> dict[str, str]:
    """A module, a company with a group that opens it, ``users`` members who log in, and the two
    clients, through a provisioning file as ``ostiary apply`` reads it; returns the secrets."""
    from ostiary.provisioning.apply import Provisioner
    from ostiary.provisioning.document import load_documents

    secrets_ = {CC_CLIENT: secrets.token_urlsafe(32), WEB_CLIENT: secrets.token_urlsafe(32)}
    document = {
        "contexts": [{"key": "bench-co", "type": "account", "name": "Bench Co", "parent": "root"}],
        "modules": [
            {
                "key": MODULE,
                "name": "Benchmark module",
                "access_right": "benchAccess",
                "acls": [
                    {"key": "benchAccess", "category": "Module", "type": "bool"},
                    {"key": "orders.read", "category": "Orders", "type": "bool"},
                ],
            }
        ],
        "groups": [
            {
                "context": "bench-co",
                "name": "Bench users",
                "rights": {MODULE: {"benchAccess": True, "orders.read": True}},
            }
        ],
        "users": [
            {
                "username": name,
                "domain": "ENTERPRISE",
                "email": f"{name}@bench.example",
                "first_name": "Bench",
                "last_name": name.capitalize(),
                "password": USER_PASSWORD,
                "status": "active",
                "memberships": [{"context": "bench-co", "groups": ["Bench users"]}],
            }
            for name in usernames(users)
        ],
        "clients": [
            {
                "client_id": CC_CLIENT,
                "client_secret": secrets_[CC_CLIENT],
                "name": "Benchmark service",
                "module": MODULE,
                "grant_types": ["client_credentials"],
                "scopes": [SCOPE],
                "token_endpoint_auth_method": "client_secret_basic",
            },
            {
                "client_id": WEB_CLIENT,
                "client_secret": secrets_[WEB_CLIENT],
                "name": "Benchmark web application",
                "module": MODULE,
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "scopes": ["openid"],
                "token_endpoint_auth_method": "client_secret_basic",
            },
        ],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=data_dir, delete=False) as f:
        json.dump(document, f)  # JSON is YAML
    try:
        with runtime.sessions() as session:
            Provisioner(runtime, session).apply(load_documents([Path(f.name)]))
    finally:
        Path(f.name).unlink()
    return secrets_


def prepare_database(url: str) -> None:
    shared_prepare_database(url, reuse=False, prefix=BENCH_DATABASE_PREFIX)


# -- other work on the machine -----------------------------------------------------------


def other_benchmarks(mine: set[int]) -> list[str]:
    """Other benchmark scripts running now (not this one, its parent shell or its servers)."""
    mine = mine | {os.getpid(), os.getppid()}
    found = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [
        re.sub(r"^\d+\s+(\S*/)?", "", line.strip())
        for line in found.splitlines()[1:]
        if re.search(r"bench/|ostiary bench", line)
        and int(line.split()[0]) not in mine
        and "uvicorn" not in line
    ]


def wait_for_quiet(progress: Progress, mine: set[int], max_load: float, max_wait: float) -> None:
    """Until no other benchmark runs, then until the one-minute load average is below
    ``max_load`` (at most ``max_wait`` minutes for that: test suites of others come and go)."""
    while running := other_benchmarks(mine):
        progress(f"waiting for other benchmarks to end: {running[0][:100]}")
        time.sleep(20)
    deadline = time.monotonic() + max_wait * 60
    while (load := os.getloadavg()[0]) >= max_load and time.monotonic() < deadline:
        progress(f"waiting for the load average ({load:.1f}) to fall below {max_load:g}")
        time.sleep(15)


# -- the whole run -----------------------------------------------------------------------


@dataclass
class Report:
    database: str
    connections: int
    warmup: float
    duration: float
    login_duration: float
    rounds: int
    tokens: int
    ostiary_version: str
    peer_version: str | None
    peer_missing: str | None
    # The one-core argon2id rate, measured just before and just after the logins.
    hash_rates: list[HashRate] = field(default_factory=list)
    rows: list[Measured] = field(default_factory=list)  # every measurement, every round
    loads: list[float] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    measured_on: str = field(default_factory=lambda: date.today().isoformat())
    machine: str = field(default_factory=machine_summary)

    def median(self, server: str, what: str) -> Measured | None:
        found = sorted(
            (m for m in self.rows if m.server == server and m.what == what), key=lambda m: m.rate
        )
        return found[len(found) // 2] if found else None

    @property
    def hash_rate(self) -> float:
        return statistics.mean(h.per_second for h in self.hash_rates)


CC = "client credentials"
CC_OPAQUE = "client credentials, opaque token"
INTROSPECT = "introspection"
LOGIN = "password login"


def run(args: argparse.Namespace, url: str) -> Report:
    from ostiary.cli import prepare

    settings = bench_settings(url, args.data_dir)
    runtime = Runtime.from_settings(settings)
    try:
        prepare(runtime)
        secrets_ = provision(runtime, args.connections, args.data_dir)
        database = database_version(runtime.engine)
    finally:
        runtime.close()
    missing = "left out (--no-peer)" if args.no_peer else peer_available()
    if missing and not args.no_peer:
        say(f"oidc-provider not run: {missing}")
    parts = set(args.only.split(",")) if args.only else set(PARTS)
    with (
        ostiary_server(url, args.data_dir, free_port(HOST), secrets_) as ostiary,
        peer_server(free_port(HOST)) if missing is None else _nothing() as peer,
    ):
        mine = {ostiary.pid} | ({peer.pid} if peer else set())
        if not args.no_wait:
            wait_for_quiet(say, mine, args.max_load, args.max_wait)
        report = Report(
            database,
            args.connections,
            args.warmup,
            args.duration,
            args.login_duration or args.duration,
            args.rounds,
            args.tokens,
            ostiary.version,
            peer.version if peer else None,
            missing,
        )
        watch = Watch(report, mine)
        servers = [ostiary] + ([peer] if peer else [])
        for n in range(args.rounds if parts - {"logins"} else 0):
            say(f"round {n + 1} of {args.rounds}, {args.connections} connections ...")
            for server in servers:
                if "tokens" in parts:
                    # oidc-provider makes a JWT for a resource indicator; Ostiary always
                    # does, for the client's module, and takes no resource parameter.
                    resource = AUDIENCE if server is peer else None
                    jwt = client_credentials(server, resource=resource, jwt=True)
                    watch(measure(server, CC, jwt, args))
                if "tokens" in parts and server is peer:
                    opaque = client_credentials(server, resource=None, jwt=False)
                    watch(measure(server, CC_OPAQUE, opaque, args))
                if "introspection" in parts:
                    # Fetched anew: oidc-provider's store keeps the latest 1,000 tokens.
                    tokens = fetch_tokens(server, args.tokens, resource=None)
                    watch(measure(server, INTROSPECT, introspection(server, tokens), args))
        if "logins" in parts:
            say("argon2id on one core, logins, argon2id again ...")
            seconds = max(0.2, min(5.0, report.login_duration / 2))
            report.hash_rates.append(argon2_rate(settings, seconds))
            login = password_login(ostiary, usernames(args.connections))
            watch(measure(ostiary, LOGIN, login, args, report.login_duration))
            report.hash_rates.append(argon2_rate(settings, seconds))
    return report


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


class Watch:
    """Keeps each measurement with the load and the other benchmarks seen at its end."""

    def __init__(self, report: Report, mine: set[int]) -> None:
        self.report = report
        self.mine = mine

    def __call__(self, measured: Measured) -> None:
        self.report.rows.append(measured)
        self.report.loads.append(os.getloadavg()[0])
        for other in other_benchmarks(self.mine):
            if other not in self.report.others:
                self.report.others.append(other)


# -- reporting ---------------------------------------------------------------------------


def verdicts(report: Report) -> dict[str, str]:
    """For each goal: what it asks, then ": met" or ": **missed**" with the share reached."""
    found: dict[str, str] = {}
    for what in (CC, INTROSPECT):
        ours, theirs = report.median("Ostiary", what), report.median("oidc-provider", what)
        if ours is None:
            continue
        if theirs is None:
            found[what] = "≥ oidc-provider: not compared (oidc-provider not run)"
            continue
        met = ours.ok > 0 and ours.rate >= theirs.rate
        share = f" ({ours.rate / theirs.rate:.0%})" if theirs.rate else ""
        found[what] = f"≥ oidc-provider: {'met' if met else '**missed**'}{share}"
    login = report.median("Ostiary", LOGIN)
    if login is not None and report.hash_rates:
        rate = report.hash_rate
        goal = LOGIN_GOAL_SHARE * rate
        per_cpu = login.rate / login.server_cpu if login.server_cpu else 0.0
        met = login.ok > 0 and login.rate >= goal
        found[LOGIN] = (
            f"≥ {goal:.1f}/s (80 % of {rate:.1f} argon2id verifications/s on one core): "
            f"{'met' if met else '**missed**'} ({login.rate / rate:.0%}; per server "
            f"CPU-second {per_cpu / rate:.0%})"
        )
    return found


def render(report: Report) -> str:
    peer = report.peer_version or f"oidc-provider not run: {report.peer_missing}"
    loads = report.loads or [0.0]
    head = (
        f"{report.database}; {report.ostiary_version}, one worker; {peer}, one process. "
        f"{report.connections} keep-alive connections, one request in flight on each; "
        f"{report.warmup:g} s warm-up, then {report.duration:g} s counted, "
        f"{report.rounds} rounds (the median round is shown, every round below); logins "
        f"counted for {report.login_duration:g} s; introspection cycles through "
        f"{report.tokens} tokens."
    )
    if report.hash_rates:
        head += (
            f" One-core argon2id ({report.hash_rates[0].parameters}): "
            + " and ".join(f"{h.per_second:.1f}" for h in report.hash_rates)
            + " verifications/s before and after the logins."
        )
    head += (
        f" Measured {report.measured_on} on {report.machine}; one-minute load average at the "
        f"end of each measurement {statistics.mean(loads):.1f} on average (highest "
        f"{max(loads):.1f})."
    )
    if report.others:
        head += (
            f" **Timed while another benchmark ran ({'; '.join(report.others)}) on the same "
            "CPUs: the figures are lowered by it.**"
        )
    goals = verdicts(report)
    lines = [
        "| server | what | per second | failed | server CPU | per server CPU-second "
        "| client CPU | other CPU | goal | |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for what in (CC, CC_OPAQUE, INTROSPECT, LOGIN):
        for server in ("Ostiary", "oidc-provider"):
            m = report.median(server, what)
            if m is None:
                continue
            goal, _, verdict = (goals.get(what, "") if server == "Ostiary" else "").partition(": ")
            per_cpu = f"{m.rate / m.server_cpu:,.0f}" if m.server_cpu else ""
            lines.append(
                f"| {server} | {what} | {m.rate:,.1f} | {m.failed} | {m.server_cpu:.0%} "
                f"| {per_cpu} | {m.client_cpu:.0%} | {m.others_cpu:.0%} | {goal} | {verdict} |"
            )
    rounds = []
    for what in (CC, CC_OPAQUE, INTROSPECT):
        for server in ("Ostiary", "oidc-provider"):
            rates = [f"{m.rate:,.0f}" for m in report.rows if m.server == server and m.what == what]
            if len(rates) > 1:
                rounds.append(f"{server} {what}: {', '.join(rates)}")
    tail = f"\nEvery round, per second: {'; '.join(rounds)}.\n" if rounds else ""
    return f"{head}\n\n" + "\n".join(lines) + "\n" + tail


def update_docs(backend: str, block_text: str, path: Path = DOCS) -> None:
    begin, end = f"<!-- oidc:{backend}:begin -->", f"<!-- oidc:{backend}:end -->"
    block = f"{begin}\n{block_text}{end}"
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _match: block, current)
    else:
        updated = f"{current.rstrip()}\n\n{block}\n"
    path.write_text(updated)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    url = str(bench_settings(args.database_url, args.data_dir).effective_database_url)
    try:
        prepare_database(url)
        report = run(args, url)
    except BenchmarkError as exc:
        say(f"error: {exc}")
        return 1
    block = render(report)
    print(block)
    if args.json:
        args.json.write_text(json.dumps(asdict(report) | {"goals": verdicts(report)}, indent=1))
    if args.write_docs:
        backend = "postgresql" if url.startswith("postgresql") else "sqlite"
        update_docs(backend, block)
        say(f"figures written to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
