"""``POST /api/v1/authz/check``: decisions in bulk for policy enforcement points."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.access.decisions import Decider, Question, decide
from ostiary.api.v1.deps import RuntimeDep, SessionDep, reads_only, scope_for

router = APIRouter(prefix="/authz", tags=["authorization"])
CheckScope = Annotated[AdminScope, Depends(scope_for(Right.AUTHZ_CHECK))]


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(description="User id or username")
    context: str = Field(description="Context id or key")
    module: str
    right: str
    address: str | None = Field(None, description="Client address, decided against API IP Allow")


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checks: list[Check] = Field(min_length=1, max_length=1000)


class CheckResult(BaseModel):
    allowed: bool
    value: bool | str | None
    reason: str


class CheckResponse(BaseModel):
    results: list[CheckResult]


@router.post("/check", response_model=CheckResponse, summary="Decide in bulk")
@reads_only
async def check(
    data: CheckRequest, session: SessionDep, runtime: RuntimeDep, scope: CheckScope
) -> Response:
    """One result per check, in order; an unknown user, context or module is a denial."""
    # The policy enforcement points' hot path (``decide``); the answer is serialized once.
    decider = Decider(session, runtime.rights, scope.visible_paths)
    questions = [Question(**c.model_dump()) for c in data.checks]
    answers = await decide(runtime.engine, decider, questions)
    response = CheckResponse(
        results=[CheckResult(allowed=a.allowed, value=a.value, reason=a.reason) for a in answers]
    )
    return Response(response.model_dump_json(), media_type="application/json")
