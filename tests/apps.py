"""Applications for the tests, made once per test process and lent to each test's runtime.

FastAPI prepares a route (its dependencies, its parameter models) the first time a request
reaches it, per application: a sign-in through a new application costs about 0.4 s of that,
through a prepared one 0.07 s. So a test gets an application that served a runtime now closed,
bound to its own (``app.state.runtime``, which every route and the lifespan read), or a new one
when every application is busy with a live runtime.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from ostiary.api.direct import Application
from ostiary.app import create_app
from ostiary.runtime import Runtime
from ostiary.server import HTTP_PROTOCOL

_APPS: list[Application] = []


def app_for(runtime: Runtime) -> Application:
    """An application serving ``runtime``: the one that does already, or a free one."""
    for app in _APPS:
        if app.state.runtime is runtime:
            return app
    for app in _APPS:
        if app.state.runtime.closed:
            app.state.runtime = runtime
            return app
    app = create_app(runtime)
    _APPS.append(app)
    return app


@contextmanager
def served_over_http(app: Any, port: int, **config: Any) -> Iterator[None]:
    """``app`` served by uvicorn over real HTTP on 127.0.0.1:``port``, in a thread, with the
    protocol ``ostiary serve`` uses, until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, http=HTTP_PROTOCOL, log_level="warning", **config
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
