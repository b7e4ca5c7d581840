"""``/branding/logos/{id}``: a branding's logo, served by Ostiary itself.

Whatever the image, the answer may run nothing: ``nosniff`` keeps the browser to the stored
type, and the content security policy (``sandbox``, nothing may load) holds an SVG opened
directly inert, on top of the check at upload (``ostiary.branding.logos``).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import undefer

from ostiary.api.v1.deps import SessionDep
from ostiary.authn.flow import LoginState
from ostiary.branding.models import Branding
from ostiary.branding.resolution import Brand, BrandingResolver
from ostiary.db.session import OstiarySession
from ostiary.users.models import User

router = APIRouter(include_in_schema=False)
INERT = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    "Cross-Origin-Resource-Policy": "cross-origin",
}
# A URL with the logo's version never changes; without it, a day.
VERSIONED = "public, max-age=31536000, immutable"
UNVERSIONED = "public, max-age=86400"


@router.get("/branding/logos/{branding_id}")
def logo(request: Request, session: SessionDep, branding_id: str, v: str = "") -> Response:
    try:
        key = uuid.UUID(branding_id)
    except ValueError:
        return Response(status_code=404, headers=INERT)
    row = session.scalars(
        select(Branding).where(Branding.id == key).options(undefer(Branding.logo))
    ).one_or_none()
    if row is None or row.logo is None or row.logo_digest is None:
        return Response(status_code=404, headers=INERT)
    etag = f'"{row.logo_digest}"'
    cache = VERSIONED if v == row.logo_digest[:16] else UNVERSIONED
    headers = {**INERT, "ETag": etag, "Cache-Control": cache}
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(row.logo, media_type=row.logo_type, headers=headers)


def show_brand(request: Request, brand: Brand) -> Brand:
    """The branding the page renders (``ostiary.web.templating``)."""
    request.state.brand = brand
    return brand


def show_users_brand(request: Request, session: OstiarySession, user: User) -> Brand:
    """Pages for a known user outside a login (the account page, a reset link's): the branding
    of their contexts, as their messages carry it."""
    return show_brand(request, Brand.of(BrandingResolver(session).for_user(user)))


def dress_for_flow(
    request: Request, session: OstiarySession, state: LoginState, user: User | None = None
) -> Brand:
    """A login page's languages (``ui_locales``, then the user's own, before the browser's;
    see ``page_language``) and the branding its flow chose when it started."""
    if user is None and state.user_id is not None:
        user = session.get(User, state.user_id)
    preferences = list(state.request.ui_locales)
    if user is not None and user.language:
        preferences.append(user.language)
    request.state.language_preferences = preferences
    return show_brand(request, BrandingResolver(session).brand(state.branding))
