"""Errors as ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ostiary.errors import PROBLEM_BASE, OstiaryError

PROBLEM_JSON = "application/problem+json"
_HTTP_KINDS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    415: "unsupported-media-type",
}


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = {"type": PROBLEM_BASE + kind, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extensions.items() if v is not None})
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="ostiary", charset="UTF-8"'
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers or None)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    name = ""
    for part in parts:
        name += f"[{part}]" if part.isdigit() else (f".{part}" if name else part)
    return name


async def _ostiary_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OstiaryError)
    return problem(exc.status, exc.kind, exc.title, exc.detail, exc.headers(), **exc.extensions())


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        errors.append({"field": _field_name(tuple(error["loc"])), "message": message})
    detail = "; ".join(
        f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
    )
    return problem(
        422,
        "invalid-input",
        "Invalid input",
        detail,
        field=errors[0]["field"] if errors else None,
        errors=errors,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = _HTTP_KINDS.get(exc.status_code, "http-error")
    return problem(exc.status_code, kind, kind.replace("-", " ").capitalize(), str(exc.detail))


def install(app: FastAPI) -> None:
    app.add_exception_handler(OstiaryError, _ostiary_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
