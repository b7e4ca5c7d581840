"""Registrations and join requests in the console: staff approve and reject organizations, a
contact person decides the join requests of their own organization and finds no other's (404,
audited), and a forged form changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.access.models import GroupMember, UserGroup
from ostiary.audit.models import AuditEvent
from ostiary.contexts.models import Context
from ostiary.provisioning.apply import Provisioner
from ostiary.provisioning.document import load_documents
from ostiary.registrations.models import Registration
from ostiary.registrations.services import RegistrationService
from ostiary.runtime import Runtime
from ostiary.users.models import Membership, User
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.registrations.support import browser as visitor
from tests.registrations.support import person, register, sent_to
from tests.web.console.onboarding import REGISTRATION, make_staff
from tests.web.console.support import PASSWORD, csrf_of, make_world, sign_in

KIM = "kim@koko.example"
MAX = "max@city.example"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False, **REGISTRATION}


@pytest.fixture
def world(runtime: Runtime, tmp_path: Path) -> Runtime:
    make_world(runtime, tmp_path)
    make_staff(runtime, tmp_path)
    return runtime


def _console(runtime: Runtime, username: str, context: str) -> Iterator[TestClient]:
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        sign_in(client, username, context)
        yield client


@pytest.fixture
def staff(world: Runtime) -> Iterator[TestClient]:
    yield from _console(world, "stella", "Root")


@pytest.fixture
def carla(world: Runtime) -> Iterator[TestClient]:
    yield from _console(world, "carla", "City Group")


def _koko(runtime: Runtime) -> Registration:
    done = register(
        runtime, visitor(runtime), organization="KOKO Media", number="K-1", **person(KIM)
    )
    assert 'id="registration-submitted"' in done.text, done.text
    return _row(runtime, KIM)


def _join(runtime: Runtime, email: str, organization: str) -> Registration:
    done = register(
        runtime, visitor(runtime), join=True, organization=organization, **person(email)
    )
    assert 'id="registration-submitted"' in done.text, done.text
    return _row(runtime, email)


def _row(runtime: Runtime, email: str) -> Registration:
    with runtime.sessions() as session:
        # The newest request of this address.
        row = session.scalars(
            select(Registration)
            .where(Registration.email == email)
            .order_by(Registration.id.desc())
            .limit(1)
        ).one()
        session.expunge(row)
        return row


def _context(runtime: Runtime, context_id: object) -> Context:
    with runtime.sessions() as session:
        context = session.get(Context, context_id)
        assert context is not None
        session.expunge(context)
        return context


def _out_of_reach(runtime: Runtime, target: object) -> int:
    with runtime.sessions() as session:
        return len(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "access.out_of_reach",
                    AuditEvent.target_id == str(target),
                )
            ).all()
        )


def test_staff_approve_a_waiting_registration(staff: TestClient, world: Runtime) -> None:
    row = _koko(world)
    listed = staff.get("/console/registrations")
    assert listed.status_code == 200
    assert 'id="nav-registrations"' in listed.text
    assert f'href="/console/registrations/{row.id}"' in listed.text and "KOKO Media" in listed.text
    page = staff.get(f"/console/registrations/{row.id}")
    assert page.status_code == 200
    for shown in ("KOKO Media", "K-1", "Kim Koko", KIM, "verified"):
        assert shown in page.text, shown
    assert 'id="approve"' in page.text and 'id="reject"' in page.text
    german = staff.get(f"/console/registrations/{row.id}", headers={"accept-language": "de"})
    assert "Registrierung von KOKO Media" in german.text and "Ablehnen" in german.text

    done = staff.post(f"/console/registrations/{row.id}/approve", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303
    after = staff.get(done.headers["location"])
    assert 'id="notice"' in after.text and 'id="approve"' not in after.text
    assert _row(world, KIM).state == "approved"
    assert _context(world, row.context_id).status == "active"
    with world.sessions() as session:
        kim = session.scalars(select(User).where(User.email_key == KIM)).one()
        admins = session.scalars(
            select(UserGroup.name)
            .join(GroupMember, GroupMember.group_id == UserGroup.id)
            .where(GroupMember.user_id == kim.id, UserGroup.context_id == row.context_id)
        ).all()
        assert kim.status == "active" and list(admins) == ["Administrators"]
    assert sent_to(world, KIM, "registration-approved")
    # The waiting list no longer holds it; the approved ones do.
    assert f"/console/registrations/{row.id}" not in staff.get("/console/registrations").text
    approved = staff.get("/console/registrations", params={"state": "approved"}).text
    assert f"/console/registrations/{row.id}" in approved
    # The filter updates the rows in place.
    rows = staff.get(
        "/console/registrations", params={"state": "any"}, headers={"HX-Request": "true"}
    ).text
    assert '<table id="requests">' in rows and "<h1>" not in rows
    assert f"/console/registrations/{row.id}" in rows


def test_staff_reject_with_a_reason_or_without(staff: TestClient, world: Runtime) -> None:
    row = _koko(world)
    page = staff.get(f"/console/registrations/{row.id}").text
    too_long = staff.post(
        f"/console/registrations/{row.id}/reject",
        data={"csrf": csrf_of(page), "reason": "x" * 2001},
    )
    assert too_long.status_code == 422 and 'id="reason-error"' in too_long.text
    assert "x" * 2001 in too_long.text and _row(world, KIM).state == "pending"
    done = staff.post(
        f"/console/registrations/{row.id}/reject",
        data={"csrf": csrf_of(page), "reason": "We could not confirm the company."},
    )
    assert done.status_code == 303
    rejected = _row(world, KIM)
    assert rejected.state == "rejected" and rejected.reason == "We could not confirm the company."
    assert _context(world, row.context_id).status == "closed"
    [mail] = sent_to(world, KIM, "registration-rejected")
    assert "We could not confirm the company." in (mail.text or "")
    shown = staff.get(done.headers["location"]).text
    assert 'id="request-reason"' in shown and 'id="reject"' not in shown
    # Deciding again is refused, as at the API.
    again = staff.post(f"/console/registrations/{row.id}/approve", data={"csrf": csrf_of(page)})
    assert again.status_code == 409 and 'id="decision-error"' in again.text

    # Without a reason, the person is told all the same.
    second = _koko(world)
    assert second.id != row.id
    staff.post(f"/console/registrations/{second.id}/reject", data={"csrf": csrf_of(page)})
    assert _row(world, KIM).state == "rejected"
    mails = sent_to(world, KIM, "registration-rejected")
    assert len(mails) == 2 and "was declined." in (mails[-1].text or "")


def test_a_forged_form_is_refused_and_changes_nothing(staff: TestClient, world: Runtime) -> None:
    row = _koko(world)
    staff.get(f"/console/registrations/{row.id}")
    forged = staff.post(f"/console/registrations/{row.id}/approve", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert _row(world, KIM).state == "pending"
    assert _context(world, row.context_id).status == "pending"


def test_a_contact_person_approves_a_join_request_of_their_organization(
    carla: TestClient, world: Runtime
) -> None:
    row = _join(world, MAX, "City Group")
    listed = carla.get("/console/join-requests").text
    assert f'href="/console/join-requests/{row.id}"' in listed
    page = carla.get(f"/console/join-requests/{row.id}").text
    planners = re.search(r'id="group-([0-9a-f-]{36})"[^>]*>\s*<label[^>]*>Planners', page)
    assert planners, page
    done = carla.post(
        f"/console/join-requests/{row.id}/approve",
        data={"csrf": csrf_of(page), "groups": [planners.group(1)]},
    )
    assert done.status_code == 303
    assert _row(world, MAX).state == "approved"
    with world.sessions() as session:
        max_ = session.scalars(select(User).where(User.email_key == MAX)).one()
        assert max_.status == "active"
        assert session.get(Membership, (max_.id, row.context_id)) is not None
        groups = session.scalars(
            select(UserGroup.name)
            .join(GroupMember, GroupMember.group_id == UserGroup.id)
            .where(GroupMember.user_id == max_.id)
        ).all()
        assert list(groups) == ["Planners"]


def test_another_organizations_request_is_not_found_and_audited(
    carla: TestClient, world: Runtime
) -> None:
    other = _join(world, "oskar@other.example", "Other Org")
    koko = _koko(world)
    listed = carla.get("/console/join-requests", params={"state": "any"}).text
    assert str(other.id) not in listed
    assert str(koko.id) not in carla.get("/console/registrations", params={"state": "any"}).text
    page = carla.get(f"/console/join-requests/{other.id}")
    assert page.status_code == 404 and 'id="problem-title"' in page.text
    assert _out_of_reach(world, other.id) == 1
    token = csrf_of(carla.get("/console/join-requests").text)
    refused = carla.post(f"/console/join-requests/{other.id}/approve", data={"csrf": token})
    assert refused.status_code == 404
    assert _out_of_reach(world, other.id) == 2
    assert _row(world, "oskar@other.example").state == "pending"
    # A registration of a new organization below the root is beyond a contact person too.
    assert carla.get(f"/console/registrations/{koko.id}").status_code == 404
    assert _out_of_reach(world, koko.id) == 1
    # And a join request is no registration: the other list does not find it.
    assert carla.get(f"/console/registrations/{other.id}").status_code == 404


READER = f"""
groups:
  - {{context: city, name: Readers, template: account-user,
     rights: {{ostiary: {{"API IP Allow": "0.0.0.0/0"}}}}}}
users:
  - {{username: rita, domain: ENTERPRISE, email: rita@city.example, first_name: Rita,
     password: "{PASSWORD}", status: active, memberships: [{{context: city, groups: [Readers]}}]}}
"""


def test_without_the_right_no_section_and_no_request(world: Runtime, tmp_path: Path) -> None:
    row = _join(world, MAX, "City Group")
    path = tmp_path / "reader.yaml"
    path.write_text(READER, encoding="utf-8")
    with world.sessions() as session:
        Provisioner(world, session).apply(load_documents([path]))
    for client in _console(world, "rita", "City Group"):
        home = client.get("/console").text
        assert 'id="nav-users"' in home and 'id="nav-contracts"' in home
        assert 'id="nav-join"' not in home and 'id="nav-registrations"' not in home
        assert client.get("/console/join-requests").status_code == 403
        assert client.get(f"/console/join-requests/{row.id}").status_code == 403
        token = csrf_of(home)
        refused = client.post(f"/console/join-requests/{row.id}/approve", data={"csrf": token})
        assert refused.status_code == 403
    assert _row(world, MAX).state == "pending"


def test_nobody_decides_their_own_request(
    staff: TestClient, carla: TestClient, world: Runtime
) -> None:
    # Stella of the back office asks to join City Group with her own account.
    with world.sessions() as session:
        stella = session.scalars(select(User).where(User.username == "stella")).one()
        row = RegistrationService(session, world).ask_to_join(stella, "City Group")
        session.commit()
        row_id = row.id
    own = staff.get(f"/console/join-requests/{row_id}")
    assert own.status_code == 200 and 'id="approve"' not in own.text
    refused = staff.post(
        f"/console/join-requests/{row_id}/approve", data={"csrf": csrf_of(own.text)}
    )
    assert refused.status_code == 422 and 'id="decision-error"' in refused.text
    assert _row(world, "stella@back-office.example").state == "pending"
    # City Group's contact person decides it.
    page = carla.get(f"/console/join-requests/{row_id}")
    assert page.status_code == 200 and 'id="approve"' in page.text


def test_contact_persons_are_told_with_a_link_to_the_request_in_the_console(
    world: Runtime,
) -> None:
    """Whoever may decide the request in the organization is told, whatever their group is
    called (carla's is "Contact persons"); a member without the right is not."""
    row = _join(world, MAX, "City Group")
    [mail] = sent_to(world, "carla@city.example", "join-request")
    assert f"http://testserver/console/join-requests/{row.id}" in (mail.text or "")
    assert sent_to(world, "jeremy@city.example", "join-request") == []
