"""Message templates in the console: staff list them per purpose and language, edit one with a
preview rendered by the sender's renderer (htmx while typing), a template error by its field;
what is saved is what messages use; a forged form and a contact person are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from ostiary.contexts.models import Context
from ostiary.messages.models import MessageTemplate
from ostiary.messages.purposes import PURPOSES, Channel
from ostiary.messages.templates import MessageTemplates
from ostiary.provisioning.apply import Provisioner
from ostiary.provisioning.document import load_documents
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.web.console.staff import make_staff_world
from tests.web.console.support import csrf_of, sign_in

EDIT = "/console/messages/invitation/en/email"
DRAFT = {
    "subject": "Join {{ organization }} on {{ brand_name }}",
    "text": "Hello {{ name }}, {{ inviter }} invites you: {{ link }} ({{ days }} days)",
    "html": "",
}


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


def _stored(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(MessageTemplate)) or 0


def test_the_list_by_purpose_and_language(staff: TestClient) -> None:
    page = staff.get("/console/messages").text
    assert 'id="edit-invitation-en-email"' in page and 'id="edit-invitation-de-email"' in page
    assert 'id="edit-phone-verification-en-sms"' in page
    chosen = staff.get("/console/messages", params={"purpose": "invitation", "language": "de"})
    assert 'id="edit-invitation-de-email"' in chosen.text
    assert 'id="edit-invitation-en-email"' not in chosen.text
    assert 'id="edit-password-reset-de-email"' not in chosen.text


def test_the_preview_shows_the_rendered_text(staff: TestClient) -> None:
    page = staff.get(EDIT).text
    # The shipped default, rendered with the sample values.
    assert 'id="preview-text"' in page and "Acme Ltd" in page
    htmx = staff.post(
        f"{EDIT}/preview", data={**DRAFT, "csrf": csrf_of(page)}, headers={"HX-Request": "true"}
    )
    assert htmx.status_code == 200 and "<html" not in htmx.text
    assert "Join Acme Ltd on SmartPlan" in htmx.text
    assert "Hello Jane Doe," in htmx.text and "(7 days)" in htmx.text
    assert 'id="text-problem" hx-swap-oob="true"' in htmx.text
    # Without htmx: the whole page, with the draft kept and its preview.
    whole = staff.post(f"{EDIT}/preview", data={**DRAFT, "csrf": csrf_of(page)})
    assert whole.status_code == 200 and "Join Acme Ltd on SmartPlan" in whole.text
    assert "{{ inviter }}" in whole.text


def test_a_template_error_is_shown_by_its_field_and_nothing_is_saved(
    staff: TestClient, runtime: Runtime
) -> None:
    page = staff.get(EDIT).text
    unknown = {**DRAFT, "text": "Hello {{ nickname }}", "csrf": csrf_of(page)}
    answer = staff.post(EDIT, data=unknown)
    assert answer.status_code == 422 and 'id="text-error"' in answer.text
    assert "unknown variable &#39;nickname&#39;" in answer.text
    assert "Hello {{ nickname }}" in answer.text
    broken = {**DRAFT, "subject": "Join {{ organization", "csrf": csrf_of(page)}
    answer = staff.post(EDIT, data=broken)
    assert answer.status_code == 422 and 'id="subject-error"' in answer.text
    htmx = staff.post(f"{EDIT}/preview", data=broken, headers={"HX-Request": "true"})
    assert 'id="subject-error"' in htmx.text and 'id="preview-problem"' in htmx.text
    assert _stored(runtime) == 0


def test_a_saved_template_is_what_messages_use_and_can_be_removed(
    staff: TestClient, runtime: Runtime
) -> None:
    page = staff.get(EDIT).text
    saved = staff.post(EDIT, data={**DRAFT, "csrf": csrf_of(page)})
    assert saved.status_code == 303
    page = staff.get(saved.headers["location"]).text
    assert 'id="notice"' in page and 'id="reset-template"' in page
    with runtime.sessions() as session:
        used = MessageTemplates(session).resolve(PURPOSES["invitation"], Channel.EMAIL, "en")
    assert used.origin == "instance" and used.source.subject == DRAFT["subject"]
    reset = staff.post(f"{EDIT}/reset", data={"csrf": csrf_of(page)})
    assert reset.status_code == 303 and _stored(runtime) == 0


def test_an_sms_template_has_text_only(staff: TestClient) -> None:
    page = staff.get("/console/messages/phone-verification/de/sms").text
    assert 'id="text"' in page and 'id="subject"' not in page
    assert staff.get("/console/messages/phone-verification/de/email").status_code == 404


def test_a_forged_form_changes_nothing(staff: TestClient, runtime: Runtime) -> None:
    forged = staff.post(EDIT, data={**DRAFT, "csrf": "x" * 64})
    assert forged.status_code == 403 and _stored(runtime) == 0


def test_a_contact_person_has_no_messages_section_and_is_refused(
    app: TestClient, runtime: Runtime
) -> None:
    home = sign_in(app, "carla", "City Group")
    assert 'id="nav-messages"' not in home
    assert app.get("/console/messages").status_code == 403
    assert app.get(EDIT).status_code == 403
    assert app.post(EDIT, data={**DRAFT, "csrf": csrf_of(home)}).status_code == 403
    assert _stored(runtime) == 0


WRITERS = """
groups:
  - {context: city, name: Writers,
     rights: {ostiary: {access: true, messages.manage: true, "API IP Allow": "0.0.0.0/0"}}}
users:
  - {username: carla, domain: ENTERPRISE, email: carla@city.example, first_name: Carla,
     last_name: Contact, status: active,
     memberships: [{context: city, groups: [Contact persons, Writers]}, {context: other}]}
"""


def test_in_an_organization_the_page_changes_its_own_templates(
    app: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "writers.yaml"
    path.write_text(WRITERS, encoding="utf-8")
    with runtime.sessions() as session:
        Provisioner(runtime, session).apply(load_documents([path]))
    home = sign_in(app, "carla", "City Group")
    page = app.get("/console/messages").text
    assert "City Group" in page and 'id="edit-invitation-en-email"' in page
    editor = app.get(EDIT).text
    assert 'id="save-template"' in editor and 'id="reset-template"' not in editor
    saved = app.post(EDIT, data={**DRAFT, "csrf": csrf_of(home)})
    assert saved.status_code == 303
    with runtime.sessions() as session:
        city = session.scalars(select(Context).where(Context.key == "city")).one()
        north = session.scalars(select(Context).where(Context.key == "city-north")).one()
        other = session.scalars(select(Context).where(Context.key == "other")).one()
        row = session.scalars(select(MessageTemplate)).one()
        assert row.context_id == city.id
        templates = MessageTemplates(session)
        invitation = PURPOSES["invitation"]
        below = templates.resolve(invitation, Channel.EMAIL, "en", north.id)
        elsewhere = templates.resolve(invitation, Channel.EMAIL, "en", other.id)
    assert below.source.subject == DRAFT["subject"] and elsewhere.origin == "default"
    assert "customised here" in app.get("/console/messages").text
    assert 'id="reset-template"' in app.get(EDIT).text
