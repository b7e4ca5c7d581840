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
from ostiary.access.decisions import Answer, Decider, Question
from ostiary.api.v1.deps import RuntimeDep, SessionDep, reads_only, scope_for
from ostiary.db.offload import run_database_block

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
    subject: Entity, resource: Entity, action: Action, context: dict[str, Any]
) -> Question | None:
    if subject.type != "user":
        return None
    address = context.get("ip") or context.get("client_address")
    return Question(
        subject.id, resource.id, resource.type, action.name, str(address) if address else None
    )


def _decision(decider: Decider, question: Question | None) -> Decision:
    answer = (
        decider.answer(question)
        if question
        else Answer(False, None, "subjects must be of type 'user'")
    )
    return Decision(
        decision=answer.allowed, context={"reason": answer.reason, "value": answer.value}
    )


@router.post("/access/v1/evaluation", response_model=Decision, summary="AuthZEN access evaluation")
@reads_only
async def evaluation(
    data: EvaluationRequest, session: SessionDep, runtime: RuntimeDep, scope: CheckScope
) -> Decision:
    # As ``POST /api/v1/authz/check``: the decision is the request's only hop.
    decider = Decider(session, runtime.rights, scope.visible_paths)
    question = _question(data.subject, data.resource, data.action, data.context)
    return await run_database_block(runtime.engine, lambda: _decision(decider, question))


@router.post(
    "/access/v1/evaluations", response_model=Decisions, summary="AuthZEN access evaluations"
)
@reads_only
async def evaluations(
    data: EvaluationsRequest, session: SessionDep, runtime: RuntimeDep, scope: CheckScope
) -> Decisions:
    """Each evaluation inherits subject, resource, action and context from the top level."""
    decider = Decider(session, runtime.rights, scope.visible_paths)
    return await run_database_block(runtime.engine, lambda: _decide_all(decider, data))


def _decide_all(decider: Decider, data: EvaluationsRequest) -> Decisions:
    results = []
    for item in data.evaluations or [Evaluation()]:
        subject, resource, action = (
            item.subject or data.subject,
            item.resource or data.resource,
            item.action or data.action,
        )
        if subject is None or resource is None or action is None:
            results.append(
                Decision(
                    decision=False, context={"reason": "subject, resource and action are required"}
                )
            )
            continue
        results.append(
            _decision(
                decider,
                _question(subject, resource, action, {**data.context, **(item.context or {})}),
            )
        )
    return Decisions(evaluations=results)


@router.get("/.well-known/authzen-configuration", summary="AuthZEN metadata")
def metadata(runtime: RuntimeDep) -> dict[str, str]:
    base = runtime.settings.issuer.rstrip("/")
    return {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
    }
