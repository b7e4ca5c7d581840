"""Clients in the console: staff register an application and see its secret once (and the
secret works at the token endpoint), errors by the field with what was typed kept, a new
secret, disabling; the console's own client is not among them; a contact person has no
section and is refused at the URL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from ostiary.clients.models import Client
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.web.console.staff import make_staff_world
from tests.web.console.support import csrf_of, sign_in

FORM = {
    "client_id": "nightly-export",
    "name": "Nightly export",
    "kind": "confidential",
    "grant_types": ["client_credentials"],
    "redirect_uris": "",
    "post_logout_redirect_uris": "",
    "scopes": "admin",
    "module": "ostiary",
    "access_token_seconds": "600",
    "refresh_token_seconds": "2592000",
    "refresh_idle_seconds": "604800",
    "signing_alg": "ES256",
}
TOKEN = {"grant_type": "client_credentials", "scope": "admin"}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False, "webhooks_worker": False}


@pytest.fixture
def app(runtime: Runtime, tmp_path: Path) -> Iterator[TestClient]:
    make_staff_world(runtime, tmp_path)
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


@pytest.fixture
def staff(app: TestClient) -> TestClient:
    sign_in(app, "stella")
    return app


def _secret(page: str) -> str:
    found = re.search(r'<code id="client-secret">([^<]+)</code>', page)
    assert found, page
    return found.group(1)


def _clients(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(Client)) or 0


def _create(staff: TestClient, **changes: object) -> tuple[int, str]:
    page = staff.get("/console/clients").text
    answer = staff.post("/console/clients", data={**FORM, **changes, "csrf": csrf_of(page)})
    return answer.status_code, answer.text


def test_the_secret_is_shown_once_and_works_at_the_token_endpoint(
    staff: TestClient, runtime: Runtime
) -> None:
    page = staff.get("/console/clients").text
    assert 'id="create-client"' in page and "ostiary-console" not in page
    answer = staff.post("/console/clients", data={**FORM, "csrf": csrf_of(page)})
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    secret = _secret(answer.text)
    # Never again: neither the client's page nor the list shows it.
    later = staff.get("/console/clients/nightly-export")
    assert later.status_code == 200 and secret not in later.text
    assert 'id="client-secret"' not in later.text
    assert "Nightly export" in staff.get("/console/clients").text
    # The stored hash verifies it: the application gets a token with it.
    tokens = TestClient(staff.app, client=LOCAL_CLIENT)
    issued = tokens.post("/oauth2/token", data=TOKEN, auth=("nightly-export", secret))
    assert issued.status_code == 200, issued.text
    assert tokens.post("/oauth2/token", data=TOKEN, auth=("nightly-export", "x" * 43)).is_error


def test_a_new_secret_replaces_the_old_one_at_once(staff: TestClient) -> None:
    _, created = _create(staff)
    old = _secret(created)
    page = staff.get("/console/clients/nightly-export").text
    answer = staff.post("/console/clients/nightly-export/secret", data={"csrf": csrf_of(page)})
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    new = _secret(answer.text)
    assert new != old
    tokens = TestClient(staff.app, client=LOCAL_CLIENT)
    assert tokens.post("/oauth2/token", data=TOKEN, auth=("nightly-export", new)).status_code == 200
    assert tokens.post("/oauth2/token", data=TOKEN, auth=("nightly-export", old)).is_error


def test_bad_input_is_shown_by_the_field_and_changes_nothing(
    staff: TestClient, runtime: Runtime
) -> None:
    before = _clients(runtime)
    status, page = _create(
        staff,
        client_id="portal",
        kind="confidential",
        grant_types=["authorization_code"],
        redirect_uris="https://portal.example/callback\nhttps://portal.example/cb#frag",
        scopes="openid profile",
    )
    assert status == 422
    assert 'id="redirect_uris-error"' in page and "line 2: must not contain a fragment" in page
    assert "https://portal.example/cb#frag" in page and 'value="portal"' in page
    status, page = _create(staff, access_token_seconds="ten minutes")
    assert status == 422 and 'id="access_token_seconds-error"' in page
    assert 'value="ten minutes"' in page
    status, page = _create(staff, kind="public")
    assert status == 422 and 'id="grant_types-error"' in page
    assert _clients(runtime) == before


def test_changing_a_client_keeps_it_and_disabling_stops_its_tokens(
    staff: TestClient, runtime: Runtime
) -> None:
    secret = _secret(_create(staff)[1])
    page = staff.get("/console/clients/nightly-export").text
    form = {**FORM, "name": "Nightly CRM export", "csrf": csrf_of(page)}
    form.pop("client_id")
    bad = staff.post("/console/clients/nightly-export", data={**form, "scopes": "bad scope!"})
    assert bad.status_code == 422 and 'id="scopes-error"' in bad.text
    saved = staff.post("/console/clients/nightly-export", data=form)
    assert saved.status_code == 303
    page = staff.get(saved.headers["location"]).text
    assert "Nightly CRM export" in page and 'id="notice"' in page
    assert (
        staff.post(
            "/console/clients/nightly-export/disable", data={"csrf": csrf_of(page)}
        ).status_code
        == 303
    )
    with runtime.sessions() as session:
        client = session.scalars(select(Client).where(Client.client_id == "nightly-export")).one()
        assert client.enabled is False
    tokens = TestClient(staff.app, client=LOCAL_CLIENT)
    assert tokens.post("/oauth2/token", data=TOKEN, auth=("nightly-export", secret)).is_error


def test_the_console_client_is_not_among_the_applications(
    staff: TestClient, runtime: Runtime
) -> None:
    page = staff.get("/console/clients").text
    assert staff.get("/console/clients/ostiary-console").status_code == 404
    refused = staff.post("/console/clients/ostiary-console/disable", data={"csrf": csrf_of(page)})
    assert refused.status_code == 404
    refused = staff.post("/console/clients/ostiary-console/secret", data={"csrf": csrf_of(page)})
    assert refused.status_code == 404
    status, _ = _create(staff, client_id="ostiary-console")
    assert status == 409
    with runtime.sessions() as session:
        console = session.scalars(select(Client).where(Client.client_id == "ostiary-console")).one()
        assert console.enabled is True and console.public is True
    assert staff.get("/console/clients").status_code == 200


def test_a_forged_form_is_refused_and_changes_nothing(staff: TestClient, runtime: Runtime) -> None:
    before = _clients(runtime)
    forged = staff.post("/console/clients", data={**FORM, "csrf": "x" * 64})
    assert forged.status_code == 403
    assert _clients(runtime) == before


def test_a_contact_person_has_no_clients_section_and_is_refused(
    app: TestClient, runtime: Runtime
) -> None:
    home = sign_in(app, "carla", "City Group")
    assert 'id="nav-clients"' not in home and 'id="nav-keys"' not in home
    assert app.get("/console/clients").status_code == 403
    answer = app.post("/console/clients", data={**FORM, "csrf": csrf_of(home)})
    assert answer.status_code == 403
    assert _clients(runtime) == 1  # the console's own


def test_deleting_a_client_after_a_confirmation(staff: TestClient, runtime: Runtime) -> None:
    secret = _secret(_create(staff)[1])
    page = staff.get("/console/clients/nightly-export").text
    assert 'id="delete-client"' in page
    confirm = staff.get("/console/clients/nightly-export/delete").text
    assert "cannot be undone" in confirm and _clients(runtime) == 2
    forged = staff.post("/console/clients/nightly-export/delete", data={"csrf": "x" * 64})
    assert forged.status_code == 403 and _clients(runtime) == 2
    done = staff.post("/console/clients/nightly-export/delete", data={"csrf": csrf_of(confirm)})
    assert done.status_code == 303 and _clients(runtime) == 1
    tokens = TestClient(staff.app, client=LOCAL_CLIENT)
    assert tokens.post("/oauth2/token", data=TOKEN, auth=("nightly-export", secret)).is_error
    assert staff.get("/console/clients/ostiary-console/delete").status_code == 404
