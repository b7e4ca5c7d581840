"""The application, with the few endpoints that clients call by the thousand a second served
ahead of the rest.

FastAPI's middleware stack, its route matching and the solving of an endpoint's dependencies
cost about a third of a token request's time in this process. An endpoint that takes the bare
``Request`` and answers every error of its own (the OAuth endpoints) needs none of them, so it
is found by its exact method and path before all that, and anything it does not handle becomes
a plain 500, as the server error middleware would answer. These requests do not pass through
FastAPI's own telemetry. Their routes stay registered too, for the answers to other methods
(405) and for anything that reaches the router.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]

log = logging.getLogger(__name__)


class Application(FastAPI):
    direct: Mapping[tuple[str, str], Endpoint] = MappingProxyType({})

    def serve_directly(self, endpoints: Mapping[tuple[str, str], Endpoint]) -> None:
        """Serve these (method, path) ahead of the middleware and the router."""
        self.direct = MappingProxyType(dict(endpoints))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.direct.get((scope["method"], scope["path"]))
            if endpoint is not None:
                scope["app"] = self
                await _serve(endpoint, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def _serve(endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
    try:
        response = await endpoint(Request(scope, receive, send))
    except Exception:
        log.exception("unhandled error at %s %s", scope["method"], scope["path"])
        response = PlainTextResponse("Internal Server Error", status_code=500)
    await response(scope, receive, send)
