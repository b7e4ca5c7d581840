"""``/console/modules``: modules and their ACL catalogues, read by anyone in the console (as
``GET /api/v1/modules``), changed by holders of ``modules.manage`` at the root, through the
service of ``/api/v1/modules``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ostiary.access.catalogue import Right
from ostiary.access.models import USER_PREFERENCES, Acl, AclType, Module
from ostiary.access.modules import ModuleService
from ostiary.access.schemas import AclIn, AclUpdate, ModuleCreate, ModuleUpdate
from ostiary.access.values import value_rule
from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.contexts.models import ContextType
from ostiary.errors import OstiaryError
from ostiary.web.console.forms import confirm, field_error, invalid
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
TYPES = [str(t) for t in ContextType]
INVALID = {
    "key": "Letters, digits, dots, dashes and underscores, at most 64, starting with a letter "
    "or digit.",
    "name": "Enter a name of at most 200 characters.",
    "context_types": "Choose known context types.",
    "category": "Enter a category of at most 100 characters.",
    "type": "Choose bool or text.",
    "description": "At most 500 characters.",
}
ACL_KEY = "Enter a key of at most 100 characters, without spaces at either end."


def _service(console: ConsoleSession) -> ModuleService:
    return ModuleService(console.caller.session, console.caller.actor)


def may_manage(console: ConsoleSession) -> bool:
    return console.may(Right.MODULES_MANAGE) and console.scope(Right.MODULES_MANAGE).unrestricted


def _require_manage(console: ConsoleSession) -> None:
    console.scope(Right.MODULES_MANAGE).require_root("changing modules, which apply everywhere,")


def _list(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, object] | None = None,
) -> Response:
    console.scope(Right.ACCESS)
    return render(
        request,
        runtime,
        console,
        "modules.html",
        status=status,
        active="modules",
        modules=_service(console).list(),
        may_manage=may_manage(console),
        types=TYPES,
        errors=errors or {},
        typed={"key": "", "name": "", "context_types": []} | (typed or {}),
    )


@router.get("/console/modules")
def list_modules(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return console_page(request, runtime, session, lambda c: _list(request, runtime, c))


@router.post("/console/modules")
def create_module(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    context_types: Annotated[list[str] | None, Form()] = None,
) -> Response:
    typed = {"key": key, "name": name, "context_types": context_types or []}

    def work(console: ConsoleSession) -> Response:
        _require_manage(console)
        try:
            data = ModuleCreate(
                key=key.strip(),
                name=name.strip(),
                context_types=context_types or [],  # type: ignore[arg-type]
            )
        except ValidationError as exc:
            errors = invalid(exc, INVALID)
            return _list(request, runtime, console, status=422, errors=errors, typed=typed)
        try:
            module = _service(console).create(data)
        except OstiaryError as exc:
            errors = field_error(console, exc)
            return _list(request, runtime, console, status=exc.status, errors=errors, typed=typed)
        return redirect(f"/console/modules/{module.key}")

    return console_page(request, runtime, session, work, csrf=csrf)


def _detail(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    module: Module,
    *,
    status: int = 200,
    form: str = "",
    errors: dict[str, str] | None = None,
    typed: dict[str, object] | None = None,
    notice: str = "",
) -> Response:
    acls = sorted(module.acls, key=lambda a: (a.category, a.key))
    defaults: dict[str, object] = {
        "name": module.name,
        "context_types": list(module.context_types),
        "access_right": module.access_right or "",
        "key": "",
        "category": "General",
        "type": "bool",
        "description": "",
    }
    return render(
        request,
        runtime,
        console,
        "module.html",
        status=status,
        active="modules",
        module=module,
        acls=acls,
        rules={acl.id: value_rule(acl) for acl in acls},
        openers=[a.key for a in acls if a.type == AclType.BOOL and a.category != USER_PREFERENCES],
        may_manage=may_manage(console),
        types=TYPES,
        form=form,
        errors=errors or {},
        typed=defaults | (typed or {}),
        notice=notice,
    )


@router.get("/console/modules/{key}")
def show_module(
    request: Request, runtime: RuntimeDep, session: SessionDep, key: str, done: str = ""
) -> Response:
    def work(console: ConsoleSession) -> Response:
        console.scope(Right.ACCESS)
        return _detail(request, runtime, console, _service(console).get(key), notice=done)

    return console_page(request, runtime, session, work)


@router.post("/console/modules/{key}")
def update_module(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    key: str,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    context_types: Annotated[list[str] | None, Form()] = None,
    access_right: Annotated[str, Form()] = "",
) -> Response:
    typed = {"name": name, "context_types": context_types or [], "access_right": access_right}

    def work(console: ConsoleSession) -> Response:
        _require_manage(console)
        service = _service(console)
        module = service.get(key)

        def again(status: int, errors: dict[str, str]) -> Response:
            return _detail(
                request,
                runtime,
                console,
                module,
                status=status,
                form="module",
                errors=errors,
                typed=typed,
            )

        try:
            data = ModuleUpdate(
                name=name.strip(),
                context_types=context_types or [],  # type: ignore[arg-type]
                access_right=access_right or None,
            )
        except ValidationError as exc:
            return again(422, invalid(exc, INVALID))
        try:
            service.update(module, data)
        except OstiaryError as exc:
            errors = field_error(console, exc)
            session.refresh(module)
            return again(exc.status, errors)
        return redirect(f"/console/modules/{key}?done=module")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.post("/console/modules/{key}/acls")
def add_acl(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    key: str,
    csrf: Annotated[str, Form()] = "",
    acl: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    type: Annotated[str, Form()] = "bool",
    description: Annotated[str, Form()] = "",
) -> Response:
    typed = {"key": acl, "category": category, "type": type, "description": description}

    def work(console: ConsoleSession) -> Response:
        _require_manage(console)
        service = _service(console)
        module = service.get(key)

        def again(status: int, errors: dict[str, str]) -> Response:
            return _detail(
                request,
                runtime,
                console,
                module,
                status=status,
                form="acl",
                errors=errors,
                typed=typed,
            )

        try:
            data = AclIn(
                key=acl,
                category=category.strip(),
                type=type,  # type: ignore[arg-type]
                description=description.strip() or None,
            )
        except ValidationError as exc:
            return again(422, invalid(exc, INVALID | {"key": ACL_KEY}))
        try:
            service.add_acl(module, data)
        except OstiaryError as exc:
            errors = field_error(console, exc)
            session.refresh(module)
            return again(exc.status, errors)
        return redirect(f"/console/modules/{key}?done=acl")

    return console_page(request, runtime, session, work, csrf=csrf)


def _acl_page(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    module: Module,
    acl: Acl,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        runtime,
        console,
        "acl.html",
        status=status,
        active="modules",
        module=module,
        acl=acl,
        rule=value_rule(acl),
        may_manage=may_manage(console),
        removable=ModuleService.kept_because(module, acl) is None,
        errors=errors or {},
        typed={"category": acl.category, "description": acl.description or ""} | (typed or {}),
    )


@router.get("/console/modules/{key}/acl")
def show_acl(
    request: Request, runtime: RuntimeDep, session: SessionDep, key: str, acl: str = ""
) -> Response:
    """One right of the module (by ``?acl=``, as keys may hold spaces and slashes)."""

    def work(console: ConsoleSession) -> Response:
        console.scope(Right.ACCESS)
        service = _service(console)
        module = service.get(key)
        return _acl_page(request, runtime, console, module, service.acl(module, acl))

    return console_page(request, runtime, session, work)


@router.post("/console/modules/{key}/acl")
def update_acl(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    key: str,
    csrf: Annotated[str, Form()] = "",
    acl: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    typed = {"category": category, "description": description}

    def work(console: ConsoleSession) -> Response:
        _require_manage(console)
        service = _service(console)
        module = service.get(key)
        found = service.acl(module, acl)
        try:
            data = AclUpdate(category=category.strip(), description=description.strip() or None)
        except ValidationError as exc:
            errors = invalid(exc, INVALID)
            return _acl_page(
                request, runtime, console, module, found, status=422, errors=errors, typed=typed
            )
        try:
            service.update_acl(module, found, data)
        except OstiaryError as exc:
            errors = field_error(console, exc)
            session.refresh(found)
            return _acl_page(
                request,
                runtime,
                console,
                module,
                found,
                status=exc.status,
                errors=errors,
                typed=typed,
            )
        return redirect(f"/console/modules/{key}?done=acl")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.get("/console/modules/{key}/acl/delete")
def confirm_delete_acl(
    request: Request, runtime: RuntimeDep, session: SessionDep, key: str, acl: str = ""
) -> Response:
    def work(console: ConsoleSession) -> Response:
        _require_manage(console)
        service = _service(console)
        module = service.get(key)
        found = service.acl(module, acl)
        return confirm(
            request,
            runtime,
            console,
            active="modules",
            title="Remove a right",
            what=f"{module.key} · {found.key}",
            consequence="Every value of this right in templates, groups, policies and user "
            "settings goes with it.",
            action=f"/console/modules/{module.key}/acl/delete",
            back=f"/console/modules/{module.key}",
            fields={"acl": found.key},
        )

    return console_page(request, runtime, session, work)


@router.post("/console/modules/{key}/acl/delete")
def delete_acl(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    key: str,
    csrf: Annotated[str, Form()] = "",
    acl: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        _require_manage(console)
        service = _service(console)
        module = service.get(key)
        service.delete_acl(module, service.acl(module, acl))
        return redirect(f"/console/modules/{key}?done=acl-removed")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.get("/console/modules/{key}/delete")
def confirm_delete_module(
    request: Request, runtime: RuntimeDep, session: SessionDep, key: str
) -> Response:
    def work(console: ConsoleSession) -> Response:
        _require_manage(console)
        module = _service(console).get(key)
        return confirm(
            request,
            runtime,
            console,
            active="modules",
            title="Delete a module",
            what=f"{module.name} ({module.key})",
            consequence="Its rights go with it, and every value of them in templates, groups, "
            "policies and user settings.",
            action=f"/console/modules/{module.key}/delete",
            back=f"/console/modules/{module.key}",
        )

    return console_page(request, runtime, session, work)


@router.post("/console/modules/{key}/delete")
def delete_module(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    key: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        _require_manage(console)
        service = _service(console)
        service.delete(service.get(key))
        return redirect("/console/modules")

    return console_page(request, runtime, session, work, csrf=csrf)
