"""The OpenID AuthZEN Authorization API 1.0 (evaluation and evaluations) over Ostiary's rights.

Mapping: ``subject`` is a user (``type`` "user", ``id`` the user id or username); ``resource``
is a module in a context (``type`` the module key, ``id`` the context id or key); ``action.name``
is the right; ``context.ip`` is the client address for ``API IP Allow``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.access.decisions import Answer, Decider, Question, decide
from ostiary.api.v1.deps import RuntimeDep, SessionDep, reads_only, scope_for

router = APIRouter(tags=["AuthZEN"])
CheckScope = Annotated[AdminScope, Depends(scope_for(Right.AUTHZ_CHECK))]


class Entity(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    id: str
    properties: dict[str, Any] | None = None


class Action(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    properties: dict[str, Any] | None = None


class Evaluation(BaseModel):
    subject: Entity | None = None
    resource: Entity | None = None
    action: Action | None = None
    context: dict[str, Any] | None = None


class EvaluationRequest(BaseModel):
    subject: Entity
    resource: Entity
    action: Action
    context: dict[str, Any] = Field(default_factory=dict)


class EvaluationsRequest(BaseModel):
    subject: Entity | None = None
    resource: Entity | None = None
    action: Action | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    evaluations: list[Evaluation] = Field(default_factory=list, max_length=1000)


class Decision(BaseModel):
    decision: bool
    context: dict[str, Any]


class Decisions(BaseModel):
    evaluations: list[Decision]


def _question(
    subject: Entity | None,
    resource: Entity | None,
    action: Action | None,
    context: dict[str, Any],
) -> Question | Answer:
    if subject is None or resource is None or action is None:
        return Answer(False, None, "subject, resource and action are required")
    if subject.type != "user":
        return Answer(False, None, "subjects must be of type 'user'")
    address = context.get("ip") or context.get("client_address")
    return Question(
        subject.id, resource.id, resource.type, action.name, str(address) if address else None
    )


def _decision(answer: Answer) -> Decision:
    return Decision(
        decision=answer.allowed, context={"reason": answer.reason, "value": answer.value}
    )


@router.post("/access/v1/evaluation", response_model=Decision, summary="AuthZEN access evaluation")
@reads_only
async def evaluation(
    data: EvaluationRequest, session: SessionDep, runtime: RuntimeDep, scope: CheckScope
) -> Decision:
    # As ``POST /api/v1/authz/check``.
    decider = Decider(session, runtime.rights, scope.visible_paths)
    question = _question(data.subject, data.resource, data.action, data.context)
    (answer,) = await decide(runtime.engine, decider, [question])
    return _decision(answer)


@router.post(
    "/access/v1/evaluations", response_model=Decisions, summary="AuthZEN access evaluations"
)
@reads_only
async def evaluations(
    data: EvaluationsRequest, session: SessionDep, runtime: RuntimeDep, scope: CheckScope
) -> Decisions:
    """Each evaluation inherits subject, resource, action and context from the top level."""
    decider = Decider(session, runtime.rights, scope.visible_paths)
    questions = [
        _question(
            item.subject or data.subject,
            item.resource or data.resource,
            item.action or data.action,
            {**data.context, **(item.context or {})},
        )
        for item in data.evaluations or [Evaluation()]
    ]
    answers = await decide(runtime.engine, decider, questions)
    return Decisions(evaluations=[_decision(answer) for answer in answers])


@router.get("/.well-known/authzen-configuration", summary="AuthZEN metadata")
def metadata(runtime: RuntimeDep) -> dict[str, str]:
    base = runtime.settings.issuer.rstrip("/")
    return {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
    }
