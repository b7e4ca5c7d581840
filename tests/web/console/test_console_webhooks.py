"""Webhooks in the console: staff subscribe a receiver and see its signing secret once, bad
input by the field, deliveries a page at a time, re-sending queues a new attempt; a forged form
and a contact person are refused."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.db.types import utcnow
from ostiary.provisioning.apply import Provisioner
from ostiary.provisioning.document import load_documents
from ostiary.runtime import Runtime
from ostiary.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription
from ostiary.webhooks.services import WebhookService
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.web.console.staff import make_staff_world
from tests.web.console.support import csrf_of, sign_in

RECEIVER = "http://127.0.0.1:9/hooks/ostiary"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False, "webhooks_worker": False, "webhooks_allow_loopback": True}


@pytest.fixture
def app(runtime: Runtime, tmp_path: Path) -> Iterator[TestClient]:
    make_staff_world(runtime, tmp_path)
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


@pytest.fixture
def staff(app: TestClient) -> TestClient:
    sign_in(app, "stella")
    return app


def _subscribe(staff: TestClient, **changes: object) -> tuple[int, str]:
    page = staff.get("/console/webhooks").text
    form = {
        "csrf": csrf_of(page),
        "url": RECEIVER,
        "events": ["user.created", "user.deleted"],
        "description": "CRM",
        "enabled": "on",
    }
    answer = staff.post("/console/webhooks", data={**form, **changes})
    return answer.status_code, answer.text


def _subscription(runtime: Runtime) -> WebhookSubscription:
    with runtime.sessions() as session:
        return session.scalars(select(WebhookSubscription)).one()


def _count(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(WebhookSubscription)) or 0


def test_a_subscription_shows_its_secret_once(staff: TestClient, runtime: Runtime) -> None:
    page = staff.get("/console/webhooks").text
    assert 'id="create-webhook"' in page and 'value="user.created"' in page
    page = staff.post(
        "/console/webhooks",
        data={"csrf": csrf_of(page), "url": RECEIVER, "events": ["user.created"], "enabled": "on"},
    )
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    secret = re.search(r'<code id="webhook-secret">(whsec_[^<]+)</code>', page.text)
    assert secret
    subscription = _subscription(runtime)
    assert subscription.events == ["user.created"] and subscription.enabled
    later = staff.get(f"/console/webhooks/{subscription.id}").text
    assert secret.group(1) not in later and 'id="webhook-secret"' not in later
    assert RECEIVER in staff.get("/console/webhooks").text


def test_bad_input_is_shown_by_the_field_and_changes_nothing(
    staff: TestClient, runtime: Runtime
) -> None:
    status, page = _subscribe(staff, url="ftp://crm.example/hook")
    assert status == 422 and 'id="url-error"' in page and 'value="ftp://crm.example/hook"' in page
    status, page = _subscribe(staff, events=["user.created", "user.exploded"])
    assert status == 422 and 'id="events-error"' in page and "user.exploded" in page
    assert _count(runtime) == 0


def test_an_edit_is_saved_and_a_bad_one_shown_by_the_field(
    staff: TestClient, runtime: Runtime
) -> None:
    _subscribe(staff)
    subscription = _subscription(runtime)
    page = staff.get(f"/console/webhooks/{subscription.id}").text
    form = {"csrf": csrf_of(page), "url": RECEIVER + "/v2", "events": ["user.deleted"]}
    bad = staff.post(f"/console/webhooks/{subscription.id}", data={**form, "url": "nonsense"})
    assert bad.status_code == 422 and 'id="url-error"' in bad.text
    assert staff.post(f"/console/webhooks/{subscription.id}", data=form).status_code == 303
    changed = _subscription(runtime)
    assert changed.url == RECEIVER + "/v2" and changed.events == ["user.deleted"]
    assert changed.enabled is False  # the box was not ticked


def test_re_sending_a_delivery_queues_a_new_attempt(staff: TestClient, runtime: Runtime) -> None:
    _subscribe(staff)
    subscription = _subscription(runtime)
    page = staff.get(f"/console/webhooks/{subscription.id}").text
    assert (
        staff.post(
            f"/console/webhooks/{subscription.id}/ping", data={"csrf": csrf_of(page)}
        ).status_code
        == 303
    )
    with runtime.sessions() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        # As the worker leaves one that the receiver never took.
        delivery.state = DeliveryState.FAILED
        delivery.attempts = 7
        delivery.last_status = 503
        delivery.failed_at = utcnow()
        delivery.due_at = utcnow() + timedelta(days=1)
        session.commit()
        delivery_id = delivery.id
    page = staff.get(f"/console/webhooks/{subscription.id}").text
    assert "webhook.ping" in page and "HTTP 503" in page and f'id="resend-{delivery_id}"' in page
    answer = staff.post(
        f"/console/webhooks/{subscription.id}/deliveries/{delivery_id}/resend",
        data={"csrf": csrf_of(page)},
    )
    assert answer.status_code == 303
    with runtime.sessions() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery is not None and delivery.state == DeliveryState.PENDING
        assert delivery.due_at <= utcnow() and delivery.failed_at is None
        resent = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "webhook.delivery_resent")
        ).all()
    assert len(resent) == 1
    assert 'id="notice"' in staff.get(answer.headers["location"]).text


def test_deliveries_come_a_page_at_a_time(staff: TestClient, runtime: Runtime) -> None:
    _subscribe(staff)
    subscription = _subscription(runtime)
    with runtime.sessions() as session:
        service = WebhookService(session, Actor(label="tester", via="cli"), runtime.settings)
        stored = session.get(WebhookSubscription, subscription.id)
        assert stored is not None
        for _ in range(27):
            service.ping(stored)
    first = staff.get(f"/console/webhooks/{subscription.id}").text
    assert first.count('id="resend-') == 25
    cursor = re.search(r'id="next-page" href="[^"]*cursor=([^"]+)"', first)
    assert cursor
    second = staff.get(f"/console/webhooks/{subscription.id}?cursor={cursor.group(1)}").text
    assert second.count('id="resend-') == 2 and 'id="next-page"' not in second


def test_a_forged_form_changes_nothing(staff: TestClient, runtime: Runtime) -> None:
    _subscribe(staff)
    subscription = _subscription(runtime)
    forged = staff.post(f"/console/webhooks/{subscription.id}/delete", data={"csrf": "x" * 64})
    assert forged.status_code == 403
    assert _count(runtime) == 1
    page = staff.get(f"/console/webhooks/{subscription.id}/delete").text
    assert "cannot be undone" in page and _count(runtime) == 1
    done = staff.post(f"/console/webhooks/{subscription.id}/delete", data={"csrf": csrf_of(page)})
    assert done.status_code == 303 and _count(runtime) == 0


def test_a_contact_person_has_no_webhooks_section_and_is_refused(
    app: TestClient, runtime: Runtime
) -> None:
    home = sign_in(app, "carla", "City Group")
    assert 'id="nav-webhooks"' not in home
    assert app.get("/console/webhooks").status_code == 403
    assert app.get(f"/console/webhooks/{uuid.uuid4()}").status_code == 403
    refused = app.post(
        "/console/webhooks", data={"csrf": csrf_of(home), "url": RECEIVER, "enabled": "on"}
    )
    assert refused.status_code == 403 and _count(runtime) == 0


INTEGRATOR = """
groups:
  - {context: city, name: Integrators,
     rights: {ostiary: {access: true, webhooks.manage: true, "API IP Allow": "0.0.0.0/0"}}}
users:
  - {username: carla, domain: ENTERPRISE, email: carla@city.example, first_name: Carla,
     last_name: Contact, status: active,
     memberships: [{context: city, groups: [Contact persons, Integrators]}, {context: other}]}
"""


def test_a_contact_person_with_the_right_reaches_their_own_subscriptions_only(
    app: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "integrators.yaml"
    path.write_text(INTEGRATOR, encoding="utf-8")
    with runtime.sessions() as session:
        report = Provisioner(runtime, session).apply(load_documents([path]))
        assert not getattr(report, "problems", None), report
    staff = TestClient(app.app, client=LOCAL_CLIENT, follow_redirects=False)
    sign_in(staff, "stella")
    _subscribe(staff)
    root_one = _subscription(runtime).id

    home = sign_in(app, "carla", "City Group")
    assert 'id="nav-webhooks"' in home
    status, page = _subscribe(app, url=RECEIVER + "/city")
    assert status == 200 and 'id="webhook-secret"' in page
    listed = app.get("/console/webhooks").text
    assert RECEIVER + "/city" in listed and f"/console/webhooks/{root_one}" not in listed
    # The root's subscription does not exist for her, and the attempt is audited.
    assert app.get(f"/console/webhooks/{root_one}").status_code == 404
    resend = app.post(f"/console/webhooks/{root_one}/ping", data={"csrf": csrf_of(listed)})
    assert resend.status_code == 404
    with runtime.sessions() as session:
        refused = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "access.out_of_reach", AuditEvent.target_id == str(root_one)
            )
        ).all()
        pings = session.scalar(select(func.count()).select_from(WebhookDelivery))
    assert len(refused) == 2 and pings == 0
