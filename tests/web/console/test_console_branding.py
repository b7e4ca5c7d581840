"""Branding in the console: a contact person brands their organization (colours checked, texts,
a logo within the limits, e-mail domains), bad input by the field and nothing changed; a forged
form is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.branding.models import Branding
from ostiary.contexts.models import Context
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.web.console.staff import make_staff_world
from tests.web.console.support import csrf_of, sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FORM = {
    "display_name": "City Group",
    "primary_color": "#1a5fb4",
    "accent_color": "#0b57d0",
    "support_url": "https://help.city.example",
    "en_login_title": "Welcome to City",
    "de_login_title": "Willkommen bei City",
}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False, "webhooks_worker": False, "branding_logo_max_bytes": 1024}


@pytest.fixture
def carla(runtime: Runtime, tmp_path: Path) -> Iterator[TestClient]:
    make_staff_world(runtime, tmp_path)
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        sign_in(client, "carla", "City Group")
        yield client


def _branding(runtime: Runtime) -> Branding | None:
    with runtime.sessions() as session:
        city = session.scalars(select(Context).where(Context.key == "city")).one()
        return session.scalars(select(Branding).where(Branding.context_id == city.id)).first()


def test_a_branding_is_saved_with_a_logo(carla: TestClient, runtime: Runtime) -> None:
    page = carla.get("/console/branding").text
    assert 'id="nav-branding"' in page and 'id="no-branding"' in page
    saved = carla.post("/console/branding", data={**FORM, "csrf": csrf_of(page)})
    assert saved.status_code == 303
    row = _branding(runtime)
    assert row is not None and row.primary_color == "#1a5fb4"
    assert row.texts["de"]["login_title"] == "Willkommen bei City"
    page = carla.get("/console/branding").text
    assert 'value="Welcome to City"' in page and 'id="logo"' in page
    files = {"logo": ("logo.png", PNG, "image/png")}
    uploaded = carla.post("/console/branding/logo", data={"csrf": csrf_of(page)}, files=files)
    assert uploaded.status_code == 303
    page = carla.get("/console/branding").text
    assert "/branding/logos/" in page and 'id="remove-logo"' in page


def test_bad_input_is_shown_by_the_field_and_changes_nothing(
    carla: TestClient, runtime: Runtime
) -> None:
    page = carla.get("/console/branding").text
    bad = carla.post(
        "/console/branding", data={**FORM, "accent_color": "#ffff00", "csrf": csrf_of(page)}
    )
    assert bad.status_code == 422 and 'id="accent_color-error"' in bad.text
    assert 'value="#ffff00"' in bad.text and _branding(runtime) is None
    carla.post("/console/branding", data={**FORM, "csrf": csrf_of(page)})
    big = {"logo": ("logo.png", PNG + b"\x00" * 2048, "image/png")}
    answer = carla.post("/console/branding/logo", data={"csrf": csrf_of(page)}, files=big)
    assert answer.status_code == 413 and 'id="logo-error"' in answer.text
    lying = {"logo": ("logo.svg", PNG, "image/svg+xml")}
    answer = carla.post("/console/branding/logo", data={"csrf": csrf_of(page)}, files=lying)
    assert answer.status_code == 422 and 'id="logo-error"' in answer.text
    row = _branding(runtime)
    assert row is not None and row.logo_digest is None


def test_e_mail_domains_of_the_organization(carla: TestClient, runtime: Runtime) -> None:
    page = carla.get("/console/branding").text
    form = {"csrf": csrf_of(page), "email_domains": "city.example\nnot a domain"}
    bad = carla.post("/console/branding/domains", data=form)
    assert bad.status_code == 422 and 'id="email_domains-error"' in bad.text
    form["email_domains"] = "city.example\nCity-North.example"
    assert carla.post("/console/branding/domains", data=form).status_code == 303
    with runtime.sessions() as session:
        city = session.scalars(select(Context).where(Context.key == "city")).one()
        assert city.email_domains == ["city-north.example", "city.example"]


def test_a_forged_form_changes_nothing(carla: TestClient, runtime: Runtime) -> None:
    forged = carla.post("/console/branding", data={**FORM, "csrf": "x" * 64})
    assert forged.status_code == 403 and _branding(runtime) is None
