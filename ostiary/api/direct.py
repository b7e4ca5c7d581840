"""Endpoints served ahead of the router: the few that clients call by the thousand a second.

Matching a request against the application's routes and solving an endpoint's dependencies
costs about a third of a token request's time in this process. An endpoint that takes the bare
``Request`` and answers every error itself (the OAuth endpoints) needs neither, so it is found
here by its exact method and path. It still runs inside the server error handler and the body
size limit; the route stays registered, for the same answers to other methods (405) and for
anything that reaches the router.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class DirectEndpoints:
    def __init__(self, app: ASGIApp, endpoints: Mapping[tuple[str, str], Endpoint]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.endpoints.get((scope["method"], scope["path"]))
            if endpoint is not None:
                response = await endpoint(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
