"""``/healthz`` (the process answers) and ``/readyz`` (the database answers)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ostiary.api.problems import problem
from ostiary.api.v1.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The server is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The server can reach its database")
def readyz(runtime: RuntimeDep) -> JSONResponse:
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return problem(
            503, "not-ready", "Not ready", f"the database does not answer: {type(exc).__name__}"
        )
    return JSONResponse({"status": "ok", "database": runtime.engine.dialect.name})
