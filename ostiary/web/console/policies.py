"""``/console/contexts/{id}/policy``: a context's access policy, the rights anyone can have
there at most; seen with ``users.read``, set (directly or from a template, copied) and cleared
with ``policies.manage`` from above the context, through the service of
``/api/v1/contexts/{id}/policy``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from ostiary.access.catalogue import Right
from ostiary.access.policies import PolicyService, require_settable, settable
from ostiary.access.rightsets import compose
from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.contexts.models import Context
from ostiary.errors import FieldProblem, InvalidInput
from ostiary.runtime import Runtime
from ostiary.web.console.forms import form_data
from ostiary.web.console.groups import CHOOSE_TEMPLATE, context_in_reach, templates_for
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.rights import RightsForm
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
FormDep = Annotated[FormData, Depends(form_data)]


def _service(console: ConsoleSession) -> PolicyService:
    return PolicyService(console.caller.session, console.caller.actor)


def may_set(console: ConsoleSession, context: Context) -> bool:
    if not console.may(Right.POLICIES_MANAGE):
        return False
    scope = console.scope(Right.POLICIES_MANAGE)
    return scope.covers(context) and settable(scope, context)


def _settable(console: ConsoleSession, context_id: str) -> Context:
    context = context_in_reach(console, Right.POLICIES_MANAGE, context_id)
    require_settable(console.scope(Right.POLICIES_MANAGE), context)
    return context


def _page(
    request: Request,
    runtime: Runtime,
    console: ConsoleSession,
    context: Context,
    *,
    status: int = 200,
    form: str = "",
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    chosen: str = "",
    notice: str = "",
) -> Response:
    rights = RightsForm.load(console.caller.session)
    stored = rights.shown(_service(console).values(context))
    return render(
        request,
        runtime,
        console,
        "policy.html",
        status=status,
        active="contexts",
        context=context,
        rights=rights,
        stored=stored,
        values=stored if values is None else values,
        templates=templates_for(console, context),
        may_set=may_set(console, context),
        form=form,
        errors=errors or {},
        chosen=chosen,
        notice=notice,
    )


@router.get("/console/contexts/{context_id}/policy")
def show_policy(
    request: Request, runtime: RuntimeDep, session: SessionDep, context_id: str, done: str = ""
) -> Response:
    def work(console: ConsoleSession) -> Response:
        context = context_in_reach(console, Right.USERS_READ, context_id)
        return _page(request, runtime, console, context, notice=done)

    return console_page(request, runtime, session, work)


@router.post("/console/contexts/{context_id}/policy/rights")
def set_policy(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    context_id: str,
    form: FormDep,
    csrf: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "rights",
    template: Annotated[str, Form()] = "",
) -> Response:
    """The policy becomes the form's rights, or (``source=template``) the template's values,
    copied."""

    def work(console: ConsoleSession) -> Response:
        context = _settable(console, context_id)
        rights = RightsForm.load(session)
        applying = source == "template"
        try:
            if applying and not template:
                raise InvalidInput([FieldProblem("template", CHOOSE_TEMPLATE)])
            values = compose(
                session,
                template_key=template if applying else None,
                rights=None if applying else rights.named(form, _service(console).values(context)),
                context_type=context.type,
            )
        except InvalidInput as exc:
            return _page(
                request,
                runtime,
                console,
                context,
                status=422,
                form="template" if applying else "rights",
                errors=rights.errors(exc),
                values=None if applying else rights.typed(form),
                chosen=template,
            )
        _service(console).set(context, values)
        return redirect(f"/console/contexts/{context.id}/policy?done=set")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.post("/console/contexts/{context_id}/policy/clear")
def clear_policy(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    context_id: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        context = _settable(console, context_id)
        _service(console).clear(context)
        return redirect(f"/console/contexts/{context.id}/policy?done=cleared")

    return console_page(request, runtime, session, work, csrf=csrf)
