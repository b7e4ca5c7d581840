"""Serving over uvicorn with one write per answer (``ostiary.server``)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from ostiary.server import OneWriteTransport
from tests.apps import served_over_http


class RecordingTransport:
    """What reaches the socket: each write, and whether the transport was closed."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info {name}"


async def _one_step() -> None:
    await asyncio.sleep(0)


def test_headers_and_body_of_one_step_go_out_in_one_write() -> None:
    async def scenario() -> list[bytes]:
        sink = RecordingTransport()
        transport = OneWriteTransport(sink, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        transport.write(b"{}")
        await _one_step()
        return sink.writes

    assert asyncio.run(scenario()) == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]


def test_a_lone_write_goes_out_when_the_loop_comes_round() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        sink = RecordingTransport()
        transport = OneWriteTransport(sink, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        before = list(sink.writes)
        await _one_step()
        return before, sink.writes

    before, after = asyncio.run(scenario())
    assert before == []
    assert after == [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"]


def test_closing_sends_what_is_held_first() -> None:
    async def scenario() -> RecordingTransport:
        sink = RecordingTransport()
        transport = OneWriteTransport(sink, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        transport.close()
        await _one_step()
        return sink

    sink = asyncio.run(scenario())
    assert sink.writes == [b"HTTP/1.1 400 Bad Request\r\n\r\n"]
    assert sink.closed


def test_nothing_is_written_to_a_closing_transport() -> None:
    async def scenario() -> list[bytes]:
        sink = RecordingTransport()
        transport = OneWriteTransport(sink, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        sink.closed = True  # the peer went away
        await _one_step()
        return sink.writes

    assert asyncio.run(scenario()) == []


def test_other_calls_reach_the_transport() -> None:
    async def scenario() -> str:
        sink = RecordingTransport()
        transport = OneWriteTransport(sink, asyncio.get_running_loop())  # type: ignore[arg-type]
        return transport.get_extra_info("peername")  # type: ignore[no-any-return]

    assert asyncio.run(scenario()) == "info peername"


# -- through uvicorn, over TCP ---------------------------------------------------------------


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await asyncio.sleep(0.5)
        await send({"type": "http.response.body", "body": b"second"})
        return
    body = scope["path"].encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    with served_over_http(_app, free, lifespan="off"):
        yield free


def _receive_until(sock: socket.socket, marker: bytes, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_pipelined_requests_are_answered_whole_and_in_order(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
        data = _receive_until(sock, b"/two", timeout=5)
    first, second = data.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert first.endswith(b"\r\n\r\n/one")
    assert second.endswith(b"\r\n\r\n/two")


def test_a_streamed_answer_shows_its_start_before_its_end(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        early = _receive_until(sock, b"first", timeout=0.4)
        assert early.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"second" not in early
        rest = _receive_until(sock, b"0\r\n\r\n", timeout=5)
    assert b"second" in rest


def test_an_answer_to_connection_close_ends_the_connection(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = _receive_until(sock, b"never there", timeout=5)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\n/bye")
