"""``/api/v1/acl-templates``, with CSV export and import."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.access.models import AclTemplate
from ostiary.access.rightsets import RightSets, compose
from ostiary.access.schemas import TemplateCreate, TemplateOut, TemplateUpdate
from ostiary.access.template_csv import COLUMNS, ImportResult, export_csv, import_csv
from ostiary.access.templates import TemplateService
from ostiary.api.v1.deps import CallerDep, SessionDep, scope_for

router = APIRouter(prefix="/acl-templates", tags=["acl templates"])


async def _manage(scope: Annotated[AdminScope, Depends(scope_for(Right.TEMPLATES_MANAGE))]) -> None:
    scope.require_root("changing templates, which apply everywhere,")


Reader = [Depends(scope_for(Right.ACCESS))]
Manager = [Depends(_manage)]


async def _service(session: SessionDep, caller: CallerDep) -> TemplateService:
    return TemplateService(session, caller.actor)


Service = Annotated[TemplateService, Depends(_service)]


def _out(session: SessionDep, template: AclTemplate) -> TemplateOut:
    rights = RightSets(session).describe((r.acl, r.value) for r in template.rights)
    return TemplateOut(
        key=template.key, name=template.name, context_types=template.context_types, rights=rights
    )


@router.get("", response_model=list[TemplateOut], dependencies=Reader, summary="List templates")
def list_templates(session: SessionDep, service: Service) -> list[TemplateOut]:
    return [_out(session, t) for t in service.list()]


@router.get(
    "/export",
    dependencies=Reader,
    summary="Export every template as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": f"Columns: {', '.join(COLUMNS)}"}},
)
def export_templates(service: Service) -> Response:
    return Response(
        export_csv(service.list()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="acl-templates.csv"'},
    )


@router.post("/import", dependencies=Manager, summary="Create or replace templates from CSV")
def import_templates(
    session: SessionDep,
    service: Service,
    body: Annotated[str, Body(media_type="text/csv", description=f"Columns: {', '.join(COLUMNS)}")],
) -> ImportResult:
    return import_csv(session, service, body)


@router.post(
    "",
    response_model=TemplateOut,
    status_code=201,
    dependencies=Manager,
    summary="Create a template",
)
def create_template(data: TemplateCreate, session: SessionDep, service: Service) -> TemplateOut:
    values = compose(session, template_key=None, rights=data.rights, context_type=None)
    template = service.create(
        data.key, name=data.name, context_types=[str(t) for t in data.context_types], rights=values
    )
    return _out(session, template)


@router.get("/{key}", response_model=TemplateOut, dependencies=Reader, summary="Read a template")
def read_template(key: str, session: SessionDep, service: Service) -> TemplateOut:
    return _out(session, service.get(key))


@router.patch(
    "/{key}", response_model=TemplateOut, dependencies=Manager, summary="Change a template"
)
def update_template(
    key: str, data: TemplateUpdate, session: SessionDep, service: Service
) -> TemplateOut:
    template = service.get(key)
    values = (
        compose(session, template_key=None, rights=data.rights, context_type=None)
        if data.rights is not None
        else service.values(template)
    )
    types = (
        [str(t) for t in data.context_types]
        if data.context_types is not None
        else template.context_types
    )
    template, _ = service.put(
        key, name=data.name or template.name, context_types=types, rights=values
    )
    return _out(session, template)


@router.delete("/{key}", status_code=204, dependencies=Manager, summary="Delete a template")
def delete_template(key: str, service: Service) -> Response:
    service.delete(service.get(key))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
