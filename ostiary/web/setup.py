"""``/setup``: the first administrator chooses a password through the link printed at start."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.authn.setup import FirstAdminSetup
from ostiary.errors import InvalidInput, NotFound
from ostiary.web.templating import said, templates

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _page(request: Request, status: int = 200, **context: object) -> HTMLResponse:
    context.setdefault("errors", {})
    return templates.TemplateResponse(
        request, "setup.html", context, status_code=status, headers=NO_STORE
    )


@router.get("/setup", response_class=HTMLResponse)
def setup_form(
    request: Request, runtime: RuntimeDep, session: SessionDep, token: str = ""
) -> HTMLResponse:
    setup = FirstAdminSetup(runtime, session, request.client.host if request.client else None)
    try:
        user = setup.user_for(token)
    except NotFound as exc:
        return _page(request, 404, expired=said(request, exc.text))
    return _page(
        request, token=token, username=user.username, min_length=runtime.passwords.min_length
    )


@router.post("/setup", response_class=HTMLResponse)
def setup_submit(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    token: Annotated[str, Form()],
    password: Annotated[str, Form()],
    confirmation: Annotated[str, Form()],
) -> HTMLResponse:
    setup = FirstAdminSetup(runtime, session, request.client.host if request.client else None)
    try:
        user = setup.complete(token, password, confirmation)
    except NotFound as exc:
        return _page(request, 404, expired=said(request, exc.text))
    except InvalidInput as exc:
        username = setup.user_for(token).username
        errors: dict[str, str] = {}
        for problem in exc.problems:
            errors[problem.field] = "; ".join(
                filter(None, (errors.get(problem.field), said(request, problem.text)))
            )
        return _page(
            request,
            422,
            token=token,
            username=username,
            errors=errors,
            min_length=runtime.passwords.min_length,
        )
    return _page(request, done=True, username=user.username)
