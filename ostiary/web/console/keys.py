"""``/console/keys``: the signing keys of the OpenID provider with their role now (next,
active, retired), and a rotation after a confirmation, as ``ostiary keys rotate`` does. Keys
sign the tokens of every client: reading them needs ``clients.manage``, rotating it at the
root, as changing clients does."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ostiary.access.catalogue import Right
from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.keys.services import MAX_TOKEN_LIFETIME, PUBLISH_AHEAD, SUPPORTED_ALGS
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
ROOT_ONLY = "rotating the signing keys, which sign for every client,"
MINUTES = {
    "publish_ahead": "Enter a whole number of minutes (0 or more).",
    "max_token_lifetime": "Enter a whole number of minutes (1 or more).",
}


def _page(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    template: str = "keys.html",
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    notice: str = "",
) -> Response:
    scope = console.scope(Right.CLIENTS_MANAGE)
    defaults = {
        "alg": "",
        "publish_ahead": str(int(PUBLISH_AHEAD.total_seconds() // 60)),
        "max_token_lifetime": str(int(MAX_TOKEN_LIFETIME.total_seconds() // 60)),
    }
    return render(
        request,
        runtime,
        console,
        template,
        status=status,
        active="keys",
        keys=runtime.keys.keys(console.caller.session),
        may_rotate=scope.unrestricted,
        algorithms=SUPPORTED_ALGS,
        errors=errors or {},
        typed=defaults | (typed or {}),
        rotated=notice == "rotated",
    )


@router.get("/console/keys")
def list_keys(
    request: Request, runtime: RuntimeDep, session: SessionDep, done: str = ""
) -> Response:
    return console_page(
        request, runtime, session, lambda console: _page(request, runtime, console, notice=done)
    )


@router.get("/console/keys/rotate")
def confirm_rotation(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    """What a rotation does, before it is done."""

    def work(console: ConsoleSession) -> Response:
        console.scope(Right.CLIENTS_MANAGE).require_root(ROOT_ONLY)
        return _page(request, runtime, console, "keys_rotate.html")

    return console_page(request, runtime, session, work)


@router.post("/console/keys/rotate")
def rotate(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    alg: Annotated[str, Form()] = "",
    publish_ahead: Annotated[str, Form()] = "",
    max_token_lifetime: Annotated[str, Form()] = "",
) -> Response:
    typed = {"alg": alg, "publish_ahead": publish_ahead, "max_token_lifetime": max_token_lifetime}

    def work(console: ConsoleSession) -> Response:
        console.scope(Right.CLIENTS_MANAGE).require_root(ROOT_ONLY)
        errors: dict[str, str] = {}
        minutes: dict[str, int] = {}
        for name, least in (("publish_ahead", 0), ("max_token_lifetime", 1)):
            text = typed[name].strip()
            if not text.isdigit() or int(text) < least:
                errors[name] = MINUTES[name]
            else:
                minutes[name] = int(text)
        if alg and alg not in SUPPORTED_ALGS:
            errors["alg"] = "Choose an algorithm."
        if errors:
            return _page(
                request,
                runtime,
                console,
                "keys_rotate.html",
                status=422,
                errors=errors,
                typed=typed,
            )
        runtime.keys.rotate(
            session,
            alg=alg or None,
            publish_ahead=timedelta(minutes=minutes["publish_ahead"]),
            max_token_lifetime=timedelta(minutes=minutes["max_token_lifetime"]),
            actor=console.caller.actor,
        )
        return redirect("/console/keys?done=rotated")

    return console_page(request, runtime, session, work, csrf=csrf)
