"""Endpoints served ahead of the middleware and the router (``ostiary.api.direct``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.testclient import TestClient

from ostiary.api.direct import Application


async def _boom(_request: Request) -> Response:
    raise RuntimeError("the database went away")


async def _echo(request: Request) -> Response:
    return JSONResponse({"body": (await request.body()).decode(), "app": request.app is app})


app = Application()
app.serve_directly({("POST", "/boom"): _boom, ("POST", "/echo"): _echo})


@app.get("/echo")
async def routed() -> dict[str, str]:
    return {"via": "router"}


def test_a_direct_endpoint_answers_and_other_methods_reach_the_router() -> None:
    with TestClient(app) as client:
        assert client.post("/echo", content=b"hi").json() == {"body": "hi", "app": True}
        assert client.get("/echo").json() == {"via": "router"}
        assert client.put("/echo").status_code == 405


def test_an_unhandled_error_is_a_plain_500() -> None:
    with TestClient(app, raise_server_exceptions=True) as client:
        response = client.post("/boom")
    assert response.status_code == 500 and response.text == "Internal Server Error"
