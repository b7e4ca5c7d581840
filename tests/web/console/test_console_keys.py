"""Signing keys in the console: staff see each key's role, rotate after a confirmation (a new
key published at once that signs later, as ``ostiary keys rotate`` does); bad input by the
field; a forged form and a contact person are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from ostiary.audit.models import AuditEvent
from ostiary.keys.models import SigningKey
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.web.console.staff import make_staff_world
from tests.web.console.support import csrf_of, sign_in


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


def _keys(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(SigningKey)) or 0


def test_keys_with_their_state_and_a_rotation_after_a_confirmation(
    staff: TestClient, runtime: Runtime
) -> None:
    page = staff.get("/console/keys").text
    assert page.count('class="key-active"') == 2 and 'id="rotate-keys"' in page
    jwks_before = staff.get("/oauth2/jwks").json()["keys"]
    confirm = staff.get("/console/keys/rotate").text
    assert 'id="what-rotating-means"' in confirm and 'value="60"' in confirm
    done = staff.post(
        "/console/keys/rotate",
        data={
            "csrf": csrf_of(confirm),
            "alg": "ES256",
            "publish_ahead": "60",
            "max_token_lifetime": "1440",
        },
    )
    assert done.status_code == 303
    page = staff.get(done.headers["location"]).text
    assert 'id="notice"' in page
    # The new ES256 key is next; the old one still signs until then; RS256 is untouched.
    assert page.count('class="key-next"') == 1 and page.count('class="key-active"') == 2
    assert _keys(runtime) == 3
    jwks_after = staff.get("/oauth2/jwks").json()["keys"]
    assert len(jwks_after) == len(jwks_before) + 1
    with runtime.sessions() as session:
        rotated = session.scalars(select(AuditEvent).where(AuditEvent.action == "keys.rotated"))
        assert [e.actor for e in rotated] == ["stella"]


def test_bad_input_is_shown_by_the_field_and_rotates_nothing(
    staff: TestClient, runtime: Runtime
) -> None:
    confirm = staff.get("/console/keys/rotate").text
    bad = staff.post(
        "/console/keys/rotate",
        data={"csrf": csrf_of(confirm), "publish_ahead": "soon", "max_token_lifetime": "0"},
    )
    assert bad.status_code == 422
    assert 'id="publish_ahead-error"' in bad.text and 'id="max_token_lifetime-error"' in bad.text
    assert 'value="soon"' in bad.text
    assert _keys(runtime) == 2


def test_a_forged_form_rotates_nothing(staff: TestClient, runtime: Runtime) -> None:
    forged = staff.post(
        "/console/keys/rotate",
        data={"csrf": "x" * 64, "publish_ahead": "60", "max_token_lifetime": "1440"},
    )
    assert forged.status_code == 403 and _keys(runtime) == 2


def test_a_contact_person_has_no_keys_section_and_is_refused(
    app: TestClient, runtime: Runtime
) -> None:
    home = sign_in(app, "carla", "City Group")
    assert 'id="nav-keys"' not in home
    assert app.get("/console/keys").status_code == 403
    assert app.get("/console/keys/rotate").status_code == 403
    refused = app.post(
        "/console/keys/rotate",
        data={"csrf": csrf_of(home), "publish_ahead": "0", "max_token_lifetime": "1"},
    )
    assert refused.status_code == 403 and _keys(runtime) == 2


def test_the_page_speaks_german_too(staff: TestClient) -> None:
    page = staff.get("/console/keys/rotate", headers={"Accept-Language": "de"}).text
    assert "Schlüssel jetzt wechseln" in page and 'lang="de"' in page
