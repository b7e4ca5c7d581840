"""``/api/v1/modules`` and their ACLs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.access.models import Module
from ostiary.access.modules import ModuleService
from ostiary.access.schemas import AclIn, AclOut, AclUpdate, ModuleCreate, ModuleOut, ModuleUpdate
from ostiary.api.v1.deps import CallerDep, SessionDep, scope_for

router = APIRouter(prefix="/modules", tags=["modules"])


async def _manage(scope: Annotated[AdminScope, Depends(scope_for(Right.MODULES_MANAGE))]) -> None:
    scope.require_root("changing modules, which apply everywhere,")


Reader = [Depends(scope_for(Right.ACCESS))]
Manager = [Depends(_manage)]


async def _service(session: SessionDep, caller: CallerDep) -> ModuleService:
    return ModuleService(session, caller.actor)


Service = Annotated[ModuleService, Depends(_service)]


@router.get("", response_model=list[ModuleOut], dependencies=Reader, summary="List modules")
def list_modules(service: Service) -> list[Module]:
    return list(service.list())


@router.post(
    "", response_model=ModuleOut, status_code=201, dependencies=Manager, summary="Create a module"
)
def create_module(data: ModuleCreate, service: Service) -> Module:
    return service.create(data)


@router.get("/{key}", response_model=ModuleOut, dependencies=Reader, summary="Read a module")
def read_module(key: str, service: Service) -> Module:
    return service.get(key)


@router.patch("/{key}", response_model=ModuleOut, dependencies=Manager, summary="Change a module")
def update_module(key: str, data: ModuleUpdate, service: Service) -> Module:
    return service.update(service.get(key), data)


@router.delete(
    "/{key}", status_code=204, dependencies=Manager, summary="Delete a module and its rights"
)
def delete_module(key: str, service: Service) -> Response:
    service.delete(service.get(key))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{key}/acls",
    response_model=AclOut,
    status_code=201,
    dependencies=Manager,
    summary="Add a right",
)
def add_acl(key: str, data: AclIn, service: Service) -> object:
    return service.add_acl(service.get(key), data)


@router.patch(
    "/{key}/acls/{acl}", response_model=AclOut, dependencies=Manager, summary="Change a right"
)
def update_acl(key: str, acl: str, data: AclUpdate, service: Service) -> object:
    module = service.get(key)
    return service.update_acl(module, service.acl(module, acl), data)


@router.delete("/{key}/acls/{acl}", status_code=204, dependencies=Manager, summary="Delete a right")
def delete_acl(key: str, acl: str, service: Service) -> Response:
    module = service.get(key)
    service.delete_acl(module, service.acl(module, acl))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
