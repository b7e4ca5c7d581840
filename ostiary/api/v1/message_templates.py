"""``/api/v1/message-templates``: the texts of the messages Ostiary sends.

Templates are kept per purpose, language and channel, for the whole instance or for a context
(``?context=``), whose subtree they then serve. Everything here needs ``messages.manage``:
changing the instance's templates at the root, a context's templates in its subtree.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.contexts.models import Context
from ostiary.contexts.services import ContextService
from ostiary.messages.purposes import PURPOSES
from ostiary.messages.schemas import (
    MessageTemplateOut,
    PreviewIn,
    PreviewOut,
    PurposeOut,
    TemplateParts,
)
from ostiary.messages.templates import (
    MessageTemplates,
    TemplateKey,
    get_channel,
    get_purpose,
    normalise_language,
)

router = APIRouter(prefix="/message-templates", tags=["messages"])
Scope = Annotated[AdminScope, Depends(scope_for(Right.MESSAGES_MANAGE))]
ContextParam = Annotated[
    uuid.UUID | None,
    Query(description="A context's own templates; left out: the instance's templates"),
]
KEY_PATH = "/{purpose}/{language}/{channel}"


def _service(session: SessionDep, caller: CallerDep, runtime: RuntimeDep) -> MessageTemplates:
    return MessageTemplates(
        session, caller.actor, default_language=runtime.settings.default_language
    )


Service = Annotated[MessageTemplates, Depends(_service)]


def _level(
    session: SessionDep,
    caller: CallerDep,
    scope: AdminScope,
    context_id: uuid.UUID | None,
    *,
    change: bool,
) -> Context | None:
    if context_id is None:
        if change:
            scope.require_root("changing the instance's message templates")
        return None
    context = ContextService(session, caller.actor).get(context_id)
    scope.require(context)
    return context


@router.get(
    "/purposes",
    response_model=list[PurposeOut],
    summary="List the purposes, their channels and variables",
)
def list_purposes(_scope: Scope) -> list[PurposeOut]:
    return [PurposeOut.of(purpose) for purpose in PURPOSES.values()]


@router.get(
    "",
    response_model=list[MessageTemplateOut],
    summary="List templates",
    description="Without `context`: the instance's templates, each customised one or else the "
    "shipped default. With `context`: that context's customised templates.",
)
def list_templates(
    session: SessionDep,
    caller: CallerDep,
    scope: Scope,
    service: Service,
    context: ContextParam = None,
    purpose: str | None = None,
    language: str | None = None,
    channel: str | None = None,
) -> list[MessageTemplateOut]:
    level = _level(session, caller, scope, context, change=False)
    found = service.list(
        level,
        purpose=get_purpose(purpose) if purpose else None,
        language=normalise_language(language) if language else None,
        channel=get_channel(channel) if channel else None,
    )
    return [MessageTemplateOut.of(r) for r in found]


@router.get(
    KEY_PATH,
    response_model=MessageTemplateOut,
    summary="Read a template",
    description="The template of this level: customised, or at the instance level the shipped "
    "default. With `effective=true`: the one a message would use, after the fallbacks over "
    "languages and contexts (docs/messages.md).",
)
def read_template(
    purpose: str,
    language: str,
    channel: str,
    session: SessionDep,
    caller: CallerDep,
    scope: Scope,
    service: Service,
    context: ContextParam = None,
    effective: bool = False,
) -> MessageTemplateOut:
    key = TemplateKey.of(purpose, language, channel)
    level = _level(session, caller, scope, context, change=False)
    if effective:
        resolved = service.resolve(
            key.purpose, key.channel, key.language, level.id if level else None
        )
    else:
        resolved = service.at_level(key, level)
    return MessageTemplateOut.of(resolved)


@router.put(
    KEY_PATH,
    response_model=MessageTemplateOut,
    summary="Create or replace a customised template",
    description="Refused (422, naming the part) when it does not parse, uses a variable its "
    "purpose does not provide, or does not render with the purpose's sample values.",
    responses={201: {"description": "Created", "model": MessageTemplateOut}},
)
def put_template(
    purpose: str,
    language: str,
    channel: str,
    parts: TemplateParts,
    session: SessionDep,
    caller: CallerDep,
    scope: Scope,
    service: Service,
    response: Response,
    context: ContextParam = None,
) -> MessageTemplateOut:
    key = TemplateKey.of(purpose, language, channel)
    level = _level(session, caller, scope, context, change=True)
    resolved, created = service.put(key, level, parts.source())
    if created:
        response.status_code = status.HTTP_201_CREATED
    return MessageTemplateOut.of(resolved)


@router.delete(
    KEY_PATH,
    status_code=204,
    summary="Delete a customised template",
    description="The next level applies again: the instance's template, or the shipped default.",
)
def delete_template(
    purpose: str,
    language: str,
    channel: str,
    session: SessionDep,
    caller: CallerDep,
    scope: Scope,
    service: Service,
    context: ContextParam = None,
) -> Response:
    key = TemplateKey.of(purpose, language, channel)
    level = _level(session, caller, scope, context, change=True)
    service.delete(key, level)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    f"{KEY_PATH}/preview",
    response_model=PreviewOut,
    summary="Render a template with sample values",
    description="Renders the draft in the body, or the template that applies here, with the "
    "purpose's sample values (some replaced by `variables`). Nothing is saved or sent.",
)
def preview_template(
    purpose: str,
    language: str,
    channel: str,
    body: PreviewIn,
    session: SessionDep,
    caller: CallerDep,
    scope: Scope,
    service: Service,
    context: ContextParam = None,
) -> PreviewOut:
    key = TemplateKey.of(purpose, language, channel)
    level = _level(session, caller, scope, context, change=False)
    draft = body.template.source() if body.template else None
    resolved, rendered = service.preview(key, level, draft, body.variables)
    return PreviewOut.of(resolved, rendered)
