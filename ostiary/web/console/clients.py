"""``/console/clients``: the registered applications (``clients.manage``); registering and
changing them, a new secret, disabling, at the root only, through the services of
``/api/v1/clients``. A secret Ostiary has just made is shown on that one answer, never again;
the console's own client is not among the applications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from ostiary.access.catalogue import Right
from ostiary.access.models import Module
from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.clients.models import Client
from ostiary.clients.schemas import (
    DEFAULT_ACCESS_TOKEN_SECONDS,
    DEFAULT_REFRESH_IDLE_SECONDS,
    DEFAULT_REFRESH_TOKEN_SECONDS,
    STANDARD_SCOPES,
    ClientCreate,
    ClientUpdate,
    GrantType,
    SigningAlg,
)
from ostiary.clients.services import ClientService, Issued
from ostiary.errors import NotFound, OstiaryError
from ostiary.text import Text
from ostiary.web.console.field_errors import of_error, of_validation
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
# A service's names for what the form calls otherwise.
RENAMED = {"public": "kind", "token_endpoint_auth_method": "kind", "module_id": "module"}
LIFETIMES = ("access_token_seconds", "refresh_token_seconds", "refresh_idle_seconds")
NOT_A_NUMBER = "Enter a whole number of seconds."
ROOT_ONLY = "changing clients, which serve every context,"


class ClientFields(BaseModel):
    """The client form as posted: text as typed, so that a refused form shows it again."""

    csrf: str = ""
    client_id: str = ""
    name: str = ""
    kind: str = "confidential"
    redirect_uris: str = ""
    post_logout_redirect_uris: str = ""
    grant_types: list[str] = []
    scopes: str = ""
    module: str = ""
    access_token_seconds: str = ""
    refresh_token_seconds: str = ""
    refresh_idle_seconds: str = ""
    signing_alg: str = ""

    @classmethod
    def of(cls, client: Client, module: str | None) -> ClientFields:
        return cls(
            client_id=client.client_id,
            name=client.name,
            kind="public" if client.public else "confidential",
            redirect_uris="\n".join(client.redirect_uris),
            post_logout_redirect_uris="\n".join(client.post_logout_redirect_uris),
            grant_types=list(client.grant_types),
            scopes=" ".join(client.scopes),
            module=module or "",
            access_token_seconds=str(client.access_token_seconds),
            refresh_token_seconds=str(client.refresh_token_seconds),
            refresh_idle_seconds=str(client.refresh_idle_seconds),
            signing_alg=client.signing_alg,
        )

    @classmethod
    def blank(cls) -> ClientFields:
        return cls(
            grant_types=[GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN],
            scopes="openid profile email",
            access_token_seconds=str(DEFAULT_ACCESS_TOKEN_SECONDS),
            refresh_token_seconds=str(DEFAULT_REFRESH_TOKEN_SECONDS),
            refresh_idle_seconds=str(DEFAULT_REFRESH_IDLE_SECONDS),
            signing_alg=SigningAlg.ES256,
        )

    def values(self) -> tuple[dict[str, object], dict[str, str]]:
        """The registration the form asks for, and what could not even be read."""
        errors: dict[str, str] = {}
        values: dict[str, object] = {
            "name": self.name.strip(),
            "public": self.kind == "public",
            "redirect_uris": _lines(self.redirect_uris),
            "post_logout_redirect_uris": _lines(self.post_logout_redirect_uris),
            "grant_types": self.grant_types,
            "scopes": self.scopes.split(),
            "module": self.module or None,
            "signing_alg": self.signing_alg or SigningAlg.ES256,
        }
        for name in LIFETIMES:
            text = getattr(self, name).strip()
            if text.isdigit():
                values[name] = int(text)
            else:
                errors[name] = NOT_A_NUMBER
        return values, errors


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _service(console: ConsoleSession) -> ClientService:
    return ClientService(console.caller.session, console.caller.actor)


def _form_context(console: ConsoleSession) -> dict[str, object]:
    session = console.caller.session
    return {
        "active": "clients",
        "may_change": console.scope(Right.CLIENTS_MANAGE).unrestricted,
        "grant_types": [str(g) for g in GrantType],
        "algorithms": [str(a) for a in SigningAlg],
        "modules": list(session.scalars(select(Module.key).order_by(Module.key))),
        "standard_scopes": STANDARD_SCOPES,
    }


def _list(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: ClientFields | None = None,
) -> Response:
    service = _service(console)
    rows = [(c, service.module_key(c)) for c in service.list()]
    return render(
        request,
        runtime,
        console,
        "clients.html",
        status=status,
        clients=rows,
        errors=errors or {},
        typed=typed or ClientFields.blank(),
        **_form_context(console),
    )


def _detail(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    client: Client,
    *,
    status: int = 200,
    secret: str | None = None,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    typed: ClientFields | None = None,
) -> Response:
    module = _service(console).module_key(client)
    return render(
        request,
        runtime,
        console,
        "client.html",
        status=status,
        client=client,
        module=module,
        secret=secret,
        notice=notice,
        errors=errors or {},
        typed=typed or ClientFields.of(client, module),
        **_form_context(console),
    )


@router.get("/console/clients")
def list_clients(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return console_page(request, runtime, session, lambda console: _list(request, runtime, console))


@router.post("/console/clients")
def create_client(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    form: Annotated[ClientFields, Form()],
) -> Response:
    def work(console: ConsoleSession) -> Response:
        console.scope(Right.CLIENTS_MANAGE).require_root(ROOT_ONLY)
        values, errors = form.values()
        client_id = form.client_id.strip() or None
        if errors:
            return _list(request, runtime, console, status=422, errors=errors, typed=form)
        try:
            data = ClientCreate(client_id=client_id, **values)  # type: ignore[arg-type]
        except ValidationError as exc:
            errors = of_validation(exc, RENAMED)
            return _list(request, runtime, console, status=422, errors=errors, typed=form)
        try:
            issued = _service(console).create(data)
        except OstiaryError as exc:
            errors = of_error(exc, RENAMED)
            if not errors or exc.refusal is not None:
                raise
            session.rollback()
            return _list(request, runtime, console, status=exc.status, errors=errors, typed=form)
        return _issued(request, runtime, console, issued, "created")

    return console_page(request, runtime, session, work, csrf=form.csrf)


def _issued(
    request: Request, runtime: RuntimeDep, console: ConsoleSession, issued: Issued, notice: str
) -> Response:
    """The client's page, with the secret just made on this one answer (never kept)."""
    return _detail(request, runtime, console, issued.client, secret=issued.secret, notice=notice)


@router.get("/console/clients/{client_id}")
def show_client(
    request: Request, runtime: RuntimeDep, session: SessionDep, client_id: str, done: str = ""
) -> Response:
    def work(console: ConsoleSession) -> Response:
        console.scope(Right.CLIENTS_MANAGE)
        client = _service(console).registered(client_id)
        return _detail(request, runtime, console, client, notice=done or None)

    return console_page(request, runtime, session, work)


@router.post("/console/clients/{client_id}")
def update_client(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    client_id: str,
    form: Annotated[ClientFields, Form()],
) -> Response:
    def work(console: ConsoleSession) -> Response:
        console.scope(Right.CLIENTS_MANAGE).require_root(ROOT_ONLY)
        service = _service(console)
        client = service.registered(client_id)
        values, errors = form.values()
        typed = form.model_copy(update={"client_id": client.client_id})
        if errors:
            return _detail(
                request, runtime, console, client, status=422, errors=errors, typed=typed
            )
        try:
            data = ClientUpdate(**values)  # type: ignore[arg-type]
        except ValidationError as exc:
            errors = of_validation(exc, RENAMED)
            return _detail(
                request, runtime, console, client, status=422, errors=errors, typed=typed
            )
        try:
            issued = service.update(client, data)
        except OstiaryError as exc:
            errors = of_error(exc, RENAMED)
            if not errors or exc.refusal is not None:
                raise
            session.rollback()
            client = service.registered(client_id)
            return _detail(
                request, runtime, console, client, status=422, errors=errors, typed=typed
            )
        if issued.secret is not None:
            return _issued(request, runtime, console, issued, "updated")
        return redirect(f"/console/clients/{client_id}?done=updated")

    return console_page(request, runtime, session, work, csrf=form.csrf)


@router.post("/console/clients/{client_id}/secret")
def new_secret(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    client_id: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        console.scope(Right.CLIENTS_MANAGE).require_root(ROOT_ONLY)
        service = _service(console)
        client = service.registered(client_id)
        secret = service.rotate_secret(client)
        return _issued(request, runtime, console, Issued(client, secret), "secret")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.get("/console/clients/{client_id}/delete")
def confirm_delete(
    request: Request, runtime: RuntimeDep, session: SessionDep, client_id: str
) -> Response:
    """What deleting means, before it is done."""

    def work(console: ConsoleSession) -> Response:
        console.scope(Right.CLIENTS_MANAGE).require_root(ROOT_ONLY)
        client = _service(console).registered(client_id)
        return render(
            request, runtime, console, "client_delete.html", active="clients", client=client
        )

    return console_page(request, runtime, session, work)


@router.post("/console/clients/{client_id}/delete")
def delete_client(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    client_id: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    def work(console: ConsoleSession) -> Response:
        console.scope(Right.CLIENTS_MANAGE).require_root(ROOT_ONLY)
        service = _service(console)
        service.delete(service.registered(client_id))
        return redirect("/console/clients")

    return console_page(request, runtime, session, work, csrf=csrf)


# Last: the action in the path must not shadow the routes above.
@router.post("/console/clients/{client_id}/{action}")
def switch(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    client_id: str,
    action: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Disable a client (it signs nobody in and gets no tokens) or enable it again."""

    def work(console: ConsoleSession) -> Response:
        console.scope(Right.CLIENTS_MANAGE).require_root(ROOT_ONLY)
        service = _service(console)
        client = service.registered(client_id)
        if action not in ("disable", "enable"):
            raise NotFound(Text("no action '{action}'", action=action))
        service.update(client, ClientUpdate(enabled=action == "enable"))
        return redirect(f"/console/clients/{client_id}?done={action}d")

    return console_page(request, runtime, session, work, csrf=csrf)
