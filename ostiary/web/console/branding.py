"""``/console/branding``: the branding of the current context (``branding.manage`` there):
name, colours, support link, texts of the sign-in pages, the logo; and the context's e-mail
domains (``contexts.manage``), through the services of ``/api/v1/contexts/{id}/branding`` and
``/api/v1/contexts/{id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from ostiary.access.catalogue import Right
from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.branding.colours import text_on
from ostiary.branding.logos import TYPES
from ostiary.branding.models import Branding
from ostiary.branding.resolution import logo_path
from ostiary.branding.schemas import BrandingIn
from ostiary.branding.services import BrandingService, Owner
from ostiary.contexts.schemas import ContextUpdate
from ostiary.contexts.services import ContextService
from ostiary.errors import OstiaryError
from ostiary.web.console.field_errors import of_error, of_validation
from ostiary.web.console.forms import field_error
from ostiary.web.console.pages import console_page, redirect, render
from ostiary.web.console.session import ConsoleSession

router = APIRouter(include_in_schema=False)
LANGUAGES = ("en", "de")
TEXTS = ("login_title", "welcome", "footer")
NOTICES = {
    "saved": "The branding is saved.",
    "logo": "The logo is saved.",
    "logo_removed": "The logo is removed.",
    "domains": "The e-mail domains are saved.",
}


class BrandingFields(BaseModel):
    csrf: str = ""
    display_name: str = ""
    primary_color: str = ""
    accent_color: str = ""
    support_url: str = ""
    en_login_title: str = ""
    en_welcome: str = ""
    en_footer: str = ""
    de_login_title: str = ""
    de_welcome: str = ""
    de_footer: str = ""

    @classmethod
    def of(cls, row: Branding | None) -> BrandingFields:
        if row is None:
            return cls()
        texts = {
            f"{tag}_{name}": (row.texts.get(tag) or {}).get(name) or ""
            for tag in LANGUAGES
            for name in TEXTS
        }
        return cls(
            display_name=row.display_name,
            primary_color=row.primary_color or "",
            accent_color=row.accent_color or "",
            support_url=row.support_url or "",
            **texts,
        )

    def texts(self) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for tag in LANGUAGES:
            given = {name: getattr(self, f"{tag}_{name}").strip() for name in TEXTS}
            given = {name: value for name, value in given.items() if value}
            if given:
                found[tag] = given
        return found


def _owner(console: ConsoleSession) -> Owner:
    console.scope(Right.BRANDING_MANAGE).require(console.context)
    return Owner(context=console.context)


def _page(
    request: Request,
    runtime: RuntimeDep,
    console: ConsoleSession,
    *,
    status: int = 200,
    typed: BrandingFields | None = None,
    errors: dict[str, str] | None = None,
    domains: str | None = None,
    notice: str = "",
) -> Response:
    owner = _owner(console)
    row = BrandingService(console.caller.session, console.caller.actor).find(owner)
    may_domains = console.may(Right.CONTEXTS_MANAGE) and console.scope(
        Right.CONTEXTS_MANAGE
    ).covers(console.context)
    return render(
        request,
        runtime,
        console,
        "branding.html",
        status=status,
        active="branding",
        branding=row,
        logo_url=logo_path(row) if row is not None else None,
        text_on_primary=text_on(row.primary_color) if row and row.primary_color else None,
        typed=typed or BrandingFields.of(row),
        errors=errors or {},
        languages=LANGUAGES,
        may_domains=may_domains,
        domains="\n".join(console.context.email_domains) if domains is None else domains,
        logo_types=", ".join(TYPES),
        logo_limit_kb=runtime.settings.branding_logo_max_bytes // 1024,
        notice=NOTICES.get(notice),
    )


@router.get("/console/branding")
def show_branding(
    request: Request, runtime: RuntimeDep, session: SessionDep, done: str = ""
) -> Response:
    return console_page(
        request, runtime, session, lambda console: _page(request, runtime, console, notice=done)
    )


@router.post("/console/branding")
def save_branding(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    form: Annotated[BrandingFields, Form()],
) -> Response:
    def work(console: ConsoleSession) -> Response:
        owner = _owner(console)
        try:
            data = BrandingIn(
                display_name=form.display_name,
                primary_color=form.primary_color.strip() or None,
                accent_color=form.accent_color.strip() or None,
                support_url=form.support_url.strip() or None,
                texts=form.texts(),  # type: ignore[arg-type]
            )
        except ValidationError as exc:
            errors = of_validation(exc)
            return _page(request, runtime, console, status=422, typed=form, errors=errors)
        BrandingService(session, console.caller.actor).put(owner, data)
        return redirect("/console/branding?done=saved")

    return console_page(request, runtime, session, work, csrf=form.csrf)


@router.post("/console/branding/logo")
def upload_logo(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    logo: Annotated[UploadFile | None, File()] = None,
) -> Response:
    limit = runtime.settings.branding_logo_max_bytes
    content = logo.file.read(limit + 1) if logo is not None else b""
    content_type = logo.content_type if logo is not None else None

    def work(console: ConsoleSession) -> Response:
        owner = _owner(console)
        try:
            BrandingService(session, console.caller.actor).put_logo(
                owner, content, content_type, limit
            )
        except OstiaryError as exc:
            errors = of_error(exc, {"branding": "logo"})
            if not errors or exc.refusal is not None:
                raise
            session.rollback()
            return _page(request, runtime, console, status=exc.status, errors=errors)
        return redirect("/console/branding?done=logo")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.post("/console/branding/logo/delete")
def remove_logo(
    request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    def work(console: ConsoleSession) -> Response:
        BrandingService(session, console.caller.actor).delete_logo(_owner(console))
        return redirect("/console/branding?done=logo_removed")

    return console_page(request, runtime, session, work, csrf=csrf)


@router.post("/console/branding/domains")
def save_domains(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    email_domains: Annotated[str, Form()] = "",
) -> Response:
    """The context's e-mail domains (home-realm discovery, registrations), one per line."""

    def work(console: ConsoleSession) -> Response:
        console.scope(Right.CONTEXTS_MANAGE).require(console.context)
        wanted = [d.strip() for d in email_domains.replace(",", "\n").splitlines() if d.strip()]
        try:
            data = ContextUpdate(email_domains=wanted)
        except ValidationError as exc:
            errors = {"email_domains": next(iter(of_validation(exc).values()))}
            return _page(
                request, runtime, console, status=422, errors=errors, domains=email_domains
            )
        try:
            ContextService(session, console.caller.actor).update(console.context, data)
        except OstiaryError as exc:
            errors = field_error(console, exc, shown_at="email_domains")
            return _page(
                request, runtime, console, status=exc.status, errors=errors, domains=email_domains
            )
        return redirect("/console/branding?done=domains")

    return console_page(request, runtime, session, work, csrf=csrf)
