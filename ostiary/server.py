"""How Ostiary is served: uvicorn's httptools protocol, with each answer sent in one write.

uvicorn writes a response's status line and headers, then its body, as two writes, and so two
`send` calls into the kernel's TCP stack: a fifth of a token request's time, and more of a short
introspection answer's. The transport a request's cycle writes to here holds the headers back
until the body follows, which they do in the same step of the event loop, and sends both at once.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: The `http` option that selects this protocol, for `uvicorn.run` and uvicorn's command line.
HTTP_PROTOCOL = "ostiary.server:OneWriteHttpProtocol"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now, for a server that a benchmark or a
    test is about to start there."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def one_worker_command(host: str, port: int) -> list[str]:
    """uvicorn's command line for one worker process serving Ostiary quietly, as benchmarks run it."""
    command = [sys.executable, "-m", "uvicorn", "ostiary.app:create_app", "--factory"]
    command += ["--host", host, "--port", str(port), "--workers", "1", "--http", HTTP_PROTOCOL]
    return command + ["--log-level", "warning", "--no-access-log"]


class OneWriteTransport:
    """A transport that sends what is written to it in one step of the event loop as one write.

    The first write of a step is held; the next one goes out together with it at once, and
    whatever is still held when the loop comes round is sent then, so nothing waits for more.
    """

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._held = None
            self._transport.write(held + data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose request cycles write through a `OneWriteTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._one_write = OneWriteTransport(transport, self.loop)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.cycle is not None:
            # The cycle's task has not run yet: it starts on the loop's next step.
            self.cycle.transport = self._one_write  # type: ignore[assignment]
