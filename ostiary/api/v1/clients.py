"""``/api/v1/clients``: the applications registered to sign users in or call APIs.

Reading needs ``clients.manage``; changing needs it at the root, since a client serves every
context. A secret appears in a response only when Ostiary has just made it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.v1.deps import CallerDep, SessionDep, scope_for
from ostiary.clients.schemas import ClientCreate, ClientIssued, ClientOut, ClientUpdate
from ostiary.clients.services import ClientService, Issued

router = APIRouter(prefix="/clients", tags=["clients"])


async def _manage(scope: Annotated[AdminScope, Depends(scope_for(Right.CLIENTS_MANAGE))]) -> None:
    scope.require_root("changing clients, which serve every context,")


Reader = [Depends(scope_for(Right.CLIENTS_MANAGE))]
Manager = [Depends(_manage)]


async def _service(session: SessionDep, caller: CallerDep) -> ClientService:
    return ClientService(session, caller.actor)


Service = Annotated[ClientService, Depends(_service)]


def _issued(issued: Issued, service: ClientService, response: Response) -> ClientIssued:
    if issued.secret is not None:
        # Nothing on the way (proxies, the browser) may keep a response with a secret.
        response.headers["Cache-Control"] = "no-store"
    client = issued.client
    return ClientIssued.of(client, service.module_key(client), client_secret=issued.secret)


@router.get("", response_model=list[ClientOut], dependencies=Reader, summary="List clients")
def list_clients(service: Service) -> list[ClientOut]:
    return [ClientOut.of(client, service.module_key(client)) for client in service.list()]


@router.post(
    "",
    response_model=ClientIssued,
    status_code=201,
    dependencies=Manager,
    summary="Register a client",
    description="The response holds the client's secret, if it has one: the only time it is shown.",
)
def create_client(data: ClientCreate, service: Service, response: Response) -> ClientIssued:
    return _issued(service.create(data), service, response)


@router.get("/{client_id}", response_model=ClientOut, dependencies=Reader, summary="Read a client")
def read_client(client_id: str, service: Service) -> ClientOut:
    client = service.get(client_id)
    return ClientOut.of(client, service.module_key(client))


@router.patch(
    "/{client_id}",
    response_model=ClientIssued,
    dependencies=Manager,
    summary="Change a client",
    description="A client that now authenticates with a secret and had none gets one, shown "
    "in this response only.",
)
def update_client(
    client_id: str, data: ClientUpdate, service: Service, response: Response
) -> ClientIssued:
    return _issued(service.update(service.get(client_id), data), service, response)


@router.delete("/{client_id}", status_code=204, dependencies=Manager, summary="Delete a client")
def delete_client(client_id: str, service: Service) -> Response:
    service.delete(service.get(client_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{client_id}/secret",
    response_model=ClientIssued,
    dependencies=Manager,
    summary="Replace a client's secret",
    description="The old secret stops working at once; the new one is shown only here.",
)
def rotate_secret(client_id: str, service: Service, response: Response) -> ClientIssued:
    client = service.get(client_id)
    secret = service.rotate_secret(client)
    return _issued(Issued(client, secret), service, response)
