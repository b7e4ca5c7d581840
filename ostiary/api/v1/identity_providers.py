"""``/api/v1/identity-providers``: upstream OpenID Connect providers for federated login.

Root staff only (``domains.manage`` at the root): a provider decides who is a user of its
domain. The client secret is taken, never shown.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.federation.schemas import (
    IdentityProviderCreate,
    IdentityProviderOut,
    IdentityProviderUpdate,
)
from ostiary.federation.services import IdentityProviderService


async def _root_staff(
    scope: Annotated[AdminScope, Depends(scope_for(Right.DOMAINS_MANAGE))],
) -> None:
    scope.require_root("managing identity providers, whose users may join any context,")


router = APIRouter(
    prefix="/identity-providers",
    tags=["identity providers"],
    dependencies=[Depends(_root_staff)],
)


async def _service(
    session: SessionDep, caller: CallerDep, runtime: RuntimeDep
) -> IdentityProviderService:
    return IdentityProviderService(session, caller.actor, runtime.settings)


Service = Annotated[IdentityProviderService, Depends(_service)]


@router.get("", response_model=list[IdentityProviderOut], summary="List identity providers")
def list_providers(service: Service) -> list[IdentityProviderOut]:
    return [service.view(provider) for provider in service.list()]


@router.post(
    "",
    response_model=IdentityProviderOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add an identity provider",
)
def create_provider(data: IdentityProviderCreate, service: Service) -> IdentityProviderOut:
    return service.view(service.create(data))


@router.get("/{key}", response_model=IdentityProviderOut, summary="Read an identity provider")
def read_provider(key: str, service: Service) -> IdentityProviderOut:
    return service.view(service.get(key))


@router.patch("/{key}", response_model=IdentityProviderOut, summary="Change an identity provider")
def update_provider(
    key: str, data: IdentityProviderUpdate, service: Service
) -> IdentityProviderOut:
    return service.view(service.update(service.get(key), data))


@router.delete("/{key}", status_code=204, summary="Remove an identity provider")
def delete_provider(key: str, service: Service) -> Response:
    service.delete(service.get(key))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
