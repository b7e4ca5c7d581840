"""``/api/v1/contexts/{id}/branding`` and ``/api/v1/clients/{client_id}/branding``.

Both need ``branding.manage`` where the branding applies: a context's in its subtree, a
client's in the client's context (at the root for a client of no context); a client's also
needs ``clients.manage``, as reading the client does. Out of reach is answered as absent.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.api.v1.deps import Caller, CallerDep, RuntimeDep, SessionDep, scope_for
from ostiary.branding.logos import TYPES, LogoTooLarge
from ostiary.branding.models import Branding
from ostiary.branding.resolution import logo_path
from ostiary.branding.schemas import BrandingIn, BrandingOut
from ostiary.branding.services import BrandingService, Owner
from ostiary.clients.services import ClientService
from ostiary.contexts.models import Context
from ostiary.contexts.services import ContextService
from ostiary.db.session import OstiarySession
from ostiary.runtime import Runtime

router = APIRouter(tags=["branding"])
BrandingScope = Annotated[AdminScope, Depends(scope_for(Right.BRANDING_MANAGE))]
ClientsScope = Annotated[AdminScope, Depends(scope_for(Right.CLIENTS_MANAGE))]
LOGO_BODY = {
    "requestBody": {
        "required": True,
        "description": "The image itself, with its Content-Type",
        "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in TYPES},
    }
}


def _context_owner(
    session: OstiarySession, caller: Caller, scope: AdminScope, id: uuid.UUID
) -> Owner:
    context = ContextService(session, caller.actor).get(id)
    scope.require(context, what="context")
    return Owner(context=context)


def _client_owner(
    session: OstiarySession, caller: Caller, scope: AdminScope, client_id: str
) -> Owner:
    client = ClientService(session, caller.actor).get(client_id)
    context = session.get(Context, client.context_id) if client.context_id else None
    if context is None:
        if not scope.unrestricted:
            raise scope.refuse("client", client.id, None)
    elif not scope.covers(context):
        raise scope.refuse("client", client.id, context.id)
    return Owner(client=client)


def _out(runtime: Runtime, owner: Owner, row: Branding) -> BrandingOut:
    path = logo_path(row)
    logo_url = runtime.settings.issuer.rstrip("/") + path if path else None
    client_id = owner.client.client_id if owner.client is not None else None
    return BrandingOut.of(row, client_id, logo_url)


async def _logo(request: Request, runtime: RuntimeDep) -> bytes:
    """The raw body, read no further than the limit."""
    limit = runtime.settings.branding_logo_max_bytes
    too_large = LogoTooLarge(f"a logo may have at most {limit} bytes", field="logo")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


LogoBody = Annotated[bytes, Depends(_logo)]


# -- a context's ---------------------------------------------------------------------------


@router.get(
    "/contexts/{context_id}/branding",
    response_model=BrandingOut,
    summary="Read a context's branding",
)
def read_context_branding(
    context_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: CallerDep,
    scope: BrandingScope,
) -> BrandingOut:
    owner = _context_owner(session, caller, scope, context_id)
    return _out(runtime, owner, BrandingService(session, caller.actor).get(owner))


@router.put(
    "/contexts/{context_id}/branding",
    response_model=BrandingOut,
    summary="Set a context's branding",
    description="Replaces every field but the logo. The root context's branding is the instance's.",
)
def put_context_branding(
    context_id: uuid.UUID,
    data: BrandingIn,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: CallerDep,
    scope: BrandingScope,
) -> BrandingOut:
    owner = _context_owner(session, caller, scope, context_id)
    return _out(runtime, owner, BrandingService(session, caller.actor).put(owner, data))


@router.delete(
    "/contexts/{context_id}/branding", status_code=204, summary="Remove a context's branding"
)
def delete_context_branding(
    context_id: uuid.UUID, session: SessionDep, caller: CallerDep, scope: BrandingScope
) -> Response:
    owner = _context_owner(session, caller, scope, context_id)
    BrandingService(session, caller.actor).delete(owner)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/contexts/{context_id}/branding/logo",
    response_model=BrandingOut,
    summary="Set a context's logo",
    openapi_extra=LOGO_BODY,
)
def put_context_logo(
    context_id: uuid.UUID,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: CallerDep,
    scope: BrandingScope,
    logo: LogoBody,
) -> BrandingOut:
    owner = _context_owner(session, caller, scope, context_id)
    row = BrandingService(session, caller.actor).put_logo(
        owner, logo, request.headers.get("content-type"), runtime.settings.branding_logo_max_bytes
    )
    return _out(runtime, owner, row)


@router.delete(
    "/contexts/{context_id}/branding/logo",
    response_model=BrandingOut,
    summary="Remove a context's logo",
)
def delete_context_logo(
    context_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: CallerDep,
    scope: BrandingScope,
) -> BrandingOut:
    owner = _context_owner(session, caller, scope, context_id)
    return _out(runtime, owner, BrandingService(session, caller.actor).delete_logo(owner))


# -- a client's ----------------------------------------------------------------------------


@router.get(
    "/clients/{client_id}/branding", response_model=BrandingOut, summary="Read a client's branding"
)
def read_client_branding(
    client_id: str,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: CallerDep,
    _clients: ClientsScope,
    scope: BrandingScope,
) -> BrandingOut:
    owner = _client_owner(session, caller, scope, client_id)
    return _out(runtime, owner, BrandingService(session, caller.actor).get(owner))


@router.put(
    "/clients/{client_id}/branding",
    response_model=BrandingOut,
    summary="Set a client's branding",
    description="Replaces every field but the logo; shown at logins started from the client.",
)
def put_client_branding(
    client_id: str,
    data: BrandingIn,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: CallerDep,
    _clients: ClientsScope,
    scope: BrandingScope,
) -> BrandingOut:
    owner = _client_owner(session, caller, scope, client_id)
    return _out(runtime, owner, BrandingService(session, caller.actor).put(owner, data))


@router.delete(
    "/clients/{client_id}/branding", status_code=204, summary="Remove a client's branding"
)
def delete_client_branding(
    client_id: str,
    session: SessionDep,
    caller: CallerDep,
    _clients: ClientsScope,
    scope: BrandingScope,
) -> Response:
    owner = _client_owner(session, caller, scope, client_id)
    BrandingService(session, caller.actor).delete(owner)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/clients/{client_id}/branding/logo",
    response_model=BrandingOut,
    summary="Set a client's logo",
    openapi_extra=LOGO_BODY,
)
def put_client_logo(
    client_id: str,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: CallerDep,
    _clients: ClientsScope,
    scope: BrandingScope,
    logo: LogoBody,
) -> BrandingOut:
    owner = _client_owner(session, caller, scope, client_id)
    row = BrandingService(session, caller.actor).put_logo(
        owner, logo, request.headers.get("content-type"), runtime.settings.branding_logo_max_bytes
    )
    return _out(runtime, owner, row)


@router.delete(
    "/clients/{client_id}/branding/logo",
    response_model=BrandingOut,
    summary="Remove a client's logo",
)
def delete_client_logo(
    client_id: str,
    runtime: RuntimeDep,
    session: SessionDep,
    caller: CallerDep,
    _clients: ClientsScope,
    scope: BrandingScope,
) -> BrandingOut:
    owner = _client_owner(session, caller, scope, client_id)
    return _out(runtime, owner, BrandingService(session, caller.actor).delete_logo(owner))
