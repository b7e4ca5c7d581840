"""``/api/v1/domains``"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.v1.deps import CallerDep, SessionDep, scope_for
from ostiary.users.domains import DomainService
from ostiary.users.models import UserDomain
from ostiary.users.schemas import DomainCreate, DomainOut, DomainUpdate

router = APIRouter(prefix="/domains", tags=["domains"])


async def _manage_everywhere(
    scope: Annotated[AdminScope, Depends(scope_for(Right.DOMAINS_MANAGE))],
) -> None:
    scope.require_root("changing user domains, which apply everywhere,")


@router.get(
    "",
    response_model=list[DomainOut],
    summary="List user domains",
    dependencies=[Depends(scope_for(Right.USERS_READ))],
)
def list_domains(session: SessionDep, caller: CallerDep) -> list[UserDomain]:
    return list(DomainService(session, caller.actor).list())


@router.post(
    "",
    response_model=DomainOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a user domain",
    dependencies=[Depends(_manage_everywhere)],
)
def create_domain(data: DomainCreate, session: SessionDep, caller: CallerDep) -> UserDomain:
    return DomainService(session, caller.actor).create(data)


@router.get(
    "/{name}",
    response_model=DomainOut,
    summary="Read a user domain",
    dependencies=[Depends(scope_for(Right.USERS_READ))],
)
def read_domain(name: str, session: SessionDep, caller: CallerDep) -> UserDomain:
    return DomainService(session, caller.actor).get(name)


@router.patch(
    "/{name}",
    response_model=DomainOut,
    summary="Change a user domain",
    dependencies=[Depends(_manage_everywhere)],
)
def update_domain(
    name: str, data: DomainUpdate, session: SessionDep, caller: CallerDep
) -> UserDomain:
    service = DomainService(session, caller.actor)
    return service.update(service.get(name), data)
