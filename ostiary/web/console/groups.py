"""``/console/contexts/{id}/groups``: the groups of a context in the caller's reach (seen with
``users.read``, changed with ``groups.manage``): create one (rights from a template, copied),
rename it, set its rights directly or from a template, add and remove members of the context,
delete it; through the services of ``/api/v1/contexts/{id}/groups``. Nobody grants a right they
do not hold (``GrantGuard``): such a change is refused (403), audited, and shown by its form."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from ostiary.access.catalogue import Right
from ostiary.access.groups import GroupService
from ostiary.access.guard import EscalationRefused, GrantGuard
from ostiary.access.models import AclTemplate, UserGroup
from ostiary.access.rightsets import compose
from ostiary.access.schemas import GroupCreate, GroupUpdate
from ostiary.access.templates import TemplateService
from ostiary.api.v1.deps import RuntimeDep, SessionDep, keep_refusal
from ostiary.contexts.models import Context
from ostiary.contexts.services import ContextService
from ostiary.errors import InvalidInput, NotFound, OstiaryError
from ostiary.runtime import Runtime
from ostiary.text import Text
from ostiary.users.search import UserQuery, search_page
from ostiary.users.services import UserService
from ostiary.web.console.forms import confirm, field_error, form_data, invalid
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.rights import RightsForm
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
FormDep = Annotated[FormData, Depends(form_data)]
INVALID = {
    "name": "Enter a name of at most 200 characters.",
    "role": "At most 200 characters.",
}
NO_MEMBER = "No member of this context has this username."
CHOOSE_TEMPLATE = "Choose a template."


def context_in_reach(console: ConsoleSession, right: str, context_id: str) -> Context:
    """The context if ``right`` reaches it; else "not found", audited."""
    scope = console.scope(right)
    try:
        parsed = uuid.UUID(context_id)
    except ValueError:
        raise NotFound(
            Text("no context with id '{context_id}'", context_id=context_id), field="id"
        ) from None
    context = ContextService(console.caller.session, console.caller.actor).get(parsed)
    scope.require(context)
    return context


def templates_for(console: ConsoleSession, context: Context) -> list[AclTemplate]:
    """The templates that may be applied in ``context`` (made for its type, or for all)."""
    templates = TemplateService(console.caller.session, console.caller.actor).list()
    return [t for t in templates if not t.context_types or context.type in t.context_types]


def refusal_shown(console: ConsoleSession, exc: EscalationRefused) -> dict[str, str]:
    """An escalation refused: undone, audited as at the API, and told by the form."""
    if exc.refusal is not None:
        keep_refusal(console.caller.session, exc.refusal)
    return {"refused": exc.detail}


def _service(console: ConsoleSession) -> GroupService:
    return GroupService(console.caller.session, console.caller.actor)


def _guard(console: ConsoleSession, runtime: Runtime) -> GrantGuard:
    scope = console.scope(Right.GROUPS_MANAGE)
    return GrantGuard(console.caller.session, runtime.rights, console.user, scope)


def _may_manage(console: ConsoleSession, context: Context) -> bool:
    return console.may(Right.GROUPS_MANAGE) and console.scope(Right.GROUPS_MANAGE).covers(context)


def _group_id(group_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(group_id)
    except ValueError:
        raise NotFound(
            Text("no group with id '{group_id}'", group_id=group_id), field="group_id"
        ) from None


def _list(
    request: Request,
    runtime: Runtime,
    console: ConsoleSession,
    context: Context,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        runtime,
        console,
        "groups.html",
        status=status,
        active="contexts",
        context=context,
        groups=_service(console).list(context),
        templates=templates_for(console, context),
        may_manage=_may_manage(console, context),
        errors=errors or {},
        typed={"name": "", "role": "", "template": ""} | (typed or {}),
    )


@router.get("/console/contexts/{context_id}/groups")
def list_groups(
    request: Request, runtime: RuntimeDep, session: SessionDep, context_id: str
) -> Response:
    def work(console: ConsoleSession) -> Response:
        context = context_in_reach(console, Right.USERS_READ, context_id)
        return _list(request, runtime, console, context)

    return console_page(request, runtime, session, work)


@router.post("/console/contexts/{context_id}/groups/new")
def create_group(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    context_id: str,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    template: Annotated[str, Form()] = "",
) -> Response:
    typed = {"name": name, "role": role, "template": template}

    def work(console: ConsoleSession) -> Response:
        context = context_in_reach(console, Right.GROUPS_MANAGE, context_id)

        def again(status: int, errors: dict[str, str]) -> Response:
            return _list(
                request, runtime, console, context, status=status, errors=errors, typed=typed
            )

        try:
            data = GroupCreate(
                name=name.strip(), role=role.strip() or None, template=template or None
            )
        except ValidationError as exc:
            return again(422, invalid(exc, INVALID))
        try:
            values = compose(
                session, template_key=data.template, rights=None, context_type=context.type
            )
        except InvalidInput as exc:
            return again(422, {p.field: p.message for p in exc.problems})
        try:
            group = _service(console).create(
                context, data.name, data.role, values, _guard(console, runtime)
            )
        except EscalationRefused as exc:
            return again(403, refusal_shown(console, exc))
        except OstiaryError as exc:
            return again(exc.status, field_error(console, exc))
        return redirect(f"/console/contexts/{context.id}/groups/{group.id}")

    return console_page(request, runtime, session, work, csrf=csrf)


def _detail(
    request: Request,
    runtime: Runtime,
    console: ConsoleSession,
    context: Context,
    group: UserGroup,
    *,
    status: int = 200,
    form: str = "",
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: str = "",
) -> Response:
    session = console.caller.session
    rights = RightsForm.load(session).locking(_guard(console, runtime), context)
    stored = rights.shown({r.acl_id: r.value for r in group.rights})
    # htmx swaps the members' section in place after a change of members; it swaps only
    # answers of 200, so the section tells of a problem itself.
    partial = form == "members" and bool(request.headers.get("hx-request"))
    return render(
        request,
        runtime,
        console,
        "group_members.html" if partial else "group.html",
        status=200 if partial else status,
        members_notice=partial and not errors,
        active="contexts",
        context=context,
        group=group,
        members=_service(console).members(group),
        rights=rights,
        values=stored if values is None else values,
        templates=templates_for(console, context),
        may_manage=_may_manage(console, context),
        form=form,
        errors=errors or {},
        typed={"name": group.name, "role": group.role or "", "template": "", "username": ""}
        | (typed or {}),
        notice=notice,
    )


def _group(
    console: ConsoleSession, right: str, context_id: str, group_id: str
) -> tuple[Context, UserGroup]:
    context = context_in_reach(console, right, context_id)
    return context, _service(console).get(context, _group_id(group_id))


@router.get("/console/contexts/{context_id}/groups/{group_id}")
def show_group(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    context_id: str,
    group_id: str,
    done: str = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        context, group = _group(console, Right.USERS_READ, context_id, group_id)
        return _detail(request, runtime, console, context, group, notice=done)

    return console_page(request, runtime, session, work)


@router.post("/console/contexts/{context_id}/groups/{group_id}")
def rename_group(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    context_id: str,
    group_id: str,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    typed = {"name": name, "role": role}

    def work(console: ConsoleSession) -> Response:
        context, group = _group(console, Right.GROUPS_MANAGE, context_id, group_id)

        def again(status: int, errors: dict[str, str]) -> Response:
            return _detail(
                request,
                runtime,
                console,
                context,
                group,
                status=status,
                form="group",
                errors=errors,
                typed=typed,
            )

        try:
            data = GroupUpdate(name=name.strip(), role=role.strip() or None)
        except ValidationError as exc:
            return again(422, invalid(exc, INVALID))
        try:
            _service(console).rename(group, name=data.name, role=data.role, fields={"name", "role"})
        except OstiaryError as exc:
            errors = field_error(console, exc)
            session.refresh(group)
            return again(exc.status, errors)
        return redirect(f"/console/contexts/{context.id}/groups/{group.id}?done=saved")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.post("/console/contexts/{context_id}/groups/{group_id}/rights")
def set_rights(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    context_id: str,
    group_id: str,
    form: FormDep,
    csrf: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "rights",
    template: Annotated[str, Form()] = "",
) -> Response:
    """The group's rights become the form's, or (``source=template``) the template's values,
    copied, as ``PUT /api/v1/contexts/{id}/groups/{group}/rights``."""

    def work(console: ConsoleSession) -> Response:
        context, group = _group(console, Right.GROUPS_MANAGE, context_id, group_id)
        rights = RightsForm.load(session).locking(_guard(console, runtime), context)
        current = {r.acl_id: r.value for r in group.rights}
        applying = source == "template"
        typed = rights.typed(form) if not applying else None

        def again(status: int, errors: dict[str, str]) -> Response:
            return _detail(
                request,
                runtime,
                console,
                context,
                group,
                status=status,
                form="template" if applying else "rights",
                errors=errors,
                typed={"template": template},
                values=typed,
            )

        if applying and not template:
            return again(422, {"template": CHOOSE_TEMPLATE})
        try:
            values = compose(
                session,
                template_key=template if applying else None,
                rights=None if applying else rights.named(form, current),
                context_type=context.type,
            )
        except InvalidInput as exc:
            return again(422, rights.errors(exc))
        try:
            _service(console).set_rights(group, context, values, _guard(console, runtime))
        except EscalationRefused as exc:
            errors = refusal_shown(console, exc)
            session.refresh(group)
            return again(403, errors)
        done = "template" if applying else "rights"
        return redirect(f"/console/contexts/{context.id}/groups/{group.id}?done={done}")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.post("/console/contexts/{context_id}/groups/{group_id}/members")
def add_member(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    context_id: str,
    group_id: str,
    csrf: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
) -> Response:
    """A member of the context joins, found by username; the grant guard checks the group's
    rights against the caller's."""

    def work(console: ConsoleSession) -> Response:
        context, group = _group(console, Right.GROUPS_MANAGE, context_id, group_id)

        def again(status: int, errors: dict[str, str]) -> Response:
            return _detail(
                request,
                runtime,
                console,
                context,
                group,
                status=status,
                form="members",
                errors=errors,
                typed={"username": username},
            )

        wanted = username.strip().casefold()
        found = search_page(
            session, UserQuery(username=wanted or None, context_id=context.id, limit=20)
        ).users
        user = next((u for u in found if wanted and u.username.casefold() == wanted), None)
        if user is None:
            return again(422, {"username": NO_MEMBER})
        try:
            _service(console).add_member(group, context, user, _guard(console, runtime))
        except EscalationRefused as exc:
            return again(403, refusal_shown(console, exc))
        except OstiaryError as exc:
            return again(exc.status, field_error(console, exc, shown_at="username"))
        if request.headers.get("hx-request"):
            return _detail(request, runtime, console, context, group, form="members")
        return redirect(f"/console/contexts/{context.id}/groups/{group.id}?done=member")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.post("/console/contexts/{context_id}/groups/{group_id}/members/remove")
def remove_member(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    context_id: str,
    group_id: str,
    csrf: Annotated[str, Form()] = "",
    user_id: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        context, group = _group(console, Right.GROUPS_MANAGE, context_id, group_id)
        try:
            parsed = uuid.UUID(user_id)
        except ValueError:
            raise NotFound(
                Text("no user with id '{user_id}'", user_id=user_id), field="user_id"
            ) from None
        user = UserService(session, console.caller.actor, runtime.passwords).get(parsed)
        _service(console).remove_member(group, user)
        if request.headers.get("hx-request"):
            return _detail(request, runtime, console, context, group, form="members")
        return redirect(f"/console/contexts/{context.id}/groups/{group.id}?done=member")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.get("/console/contexts/{context_id}/groups/{group_id}/delete")
def confirm_delete(
    request: Request, runtime: RuntimeDep, session: SessionDep, context_id: str, group_id: str
) -> Response:
    def work(console: ConsoleSession) -> Response:
        context, group = _group(console, Right.GROUPS_MANAGE, context_id, group_id)
        return confirm(
            request,
            runtime,
            console,
            active="contexts",
            title="Delete a group",
            what=f"{group.name} · {context.name}",
            consequence="Its members lose the rights it gave them; the users stay.",
            action=f"/console/contexts/{context.id}/groups/{group.id}/delete",
            back=f"/console/contexts/{context.id}/groups/{group.id}",
        )

    return console_page(request, runtime, session, work)


@router.post("/console/contexts/{context_id}/groups/{group_id}/delete")
def delete_group(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    context_id: str,
    group_id: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        context, group = _group(console, Right.GROUPS_MANAGE, context_id, group_id)
        _service(console).delete(group)
        return redirect(f"/console/contexts/{context.id}/groups")

    return console_page(request, runtime, session, work, csrf=csrf)
