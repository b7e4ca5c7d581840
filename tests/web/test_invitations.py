"""Accepting invitations in the browser: the SmartPlan story of document 000 over HTTP with a
real SMTP conversation, links that no longer work, people who already have an account, a
second factor at acceptance, and leads."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from starlette.testclient import TestClient

from ostiary.audit.models import AuditEvent
from ostiary.db.models import metadata
from ostiary.db.types import utcnow
from ostiary.invitations.models import Invitation
from ostiary.messages.models import Message
from ostiary.messages.outbox import MessageWorker
from ostiary.runtime import Runtime
from ostiary.users.models import User
from ostiary.web.invitations import _csrf as form_token
from tests.apps import app_for
from tests.authn.support import last_code
from tests.conftest import LOCAL_CLIENT
from tests.helpers import make_context, make_user, root_id
from tests.messages.servers import smtp_server

URL = "/api/v1/invitations"
JEREMY = "jeremy.mills@citygroup.example"
PASSWORD = "City Group keeps the lights on"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False}


@pytest.fixture
def city(client: TestClient) -> str:
    return str(make_context(client, root_id(client), "account", "City Group", key="city")["id"])


@pytest.fixture
def browser(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def new_browser(runtime: Runtime) -> TestClient:
    return TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False)


def invite(client: TestClient, context: str, email: str, **extra: Any) -> dict[str, Any]:
    answer = client.post(URL, json={"context_id": context, "email": email, **extra})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def link_of(text: str) -> str:
    match = re.search(r"http://testserver(/invite\?token=[\w-]+)", text)
    assert match, text
    return match.group(1)


def outbox_link(runtime: Runtime, email: str) -> str:
    with runtime.sessions() as session:
        message = session.scalars(
            select(Message)
            .where(Message.purpose == "invitation", Message.recipient == email)
            .order_by(Message.id.desc())
        ).first()
        assert message is not None
        return link_of(message.text or "")


def body_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def open_link(browser: TestClient, link: str) -> Any:
    moved = browser.get(link)
    assert moved.status_code == 303 and moved.headers["location"] == "/invite"
    assert "token=" not in moved.headers["location"]
    return browser.get("/invite")


def register(browser: TestClient, link: str, **fields: str) -> Any:
    page = open_link(browser, link)
    assert 'action="/invite/register"' in page.text, page.text
    form = {
        "csrf": csrf_of(page.text),
        "first_name": "Jeremy",
        "last_name": "Mills",
        "password": PASSWORD,
        "confirmation": PASSWORD,
        "phone": "+41446681800",
        "language": "en",
        **fields,
    }
    return browser.post("/invite/register", data=form)


def user_by_email(runtime: Runtime, email: str) -> User:
    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.email_key == email.casefold())).one()
        session.expunge(user)
        return user


def groups_of(client: TestClient, context: str, user_id: str) -> set[str]:
    names = set()
    for group in client.get(f"/api/v1/contexts/{context}/groups").json():
        members = client.get(f"/api/v1/contexts/{context}/groups/{group['id']}/members").json()
        if any(m["id"] == user_id for m in members):
            names.add(group["name"])
    return names


def unusable(page: Any) -> str:
    match = re.search(r'id="invitation-unusable" data-reason="(\w+)"', page.text)
    assert match, page.text
    return match.group(1)


def test_the_smartplan_story(
    client: TestClient, browser: TestClient, runtime: Runtime, city: str
) -> None:
    # SmartPlan lets contact persons use the admin API from its network.
    template = client.get("/api/v1/acl-templates/account-administrator").json()
    rights = template["rights"]
    rights["ostiary"]["API IP Allow"] = "127.0.0.0/8"
    assert (
        client.patch(
            "/api/v1/acl-templates/account-administrator", json={"rights": rights}
        ).status_code
        == 200
    )
    with smtp_server() as (port, mailbox):
        runtime.settings.smtp_url = SecretStr(f"smtp://127.0.0.1:{port}")
        # Scott Long of SmartPlan's staff invites Jeremy Mills as City Group's administrator.
        invitation = invite(client, city, JEREMY, message="Welcome to MySmartPlan.")
        assert invitation["as_administrator"] is True
        assert MessageWorker(runtime).run_once().sent == 1
        [mail] = mailbox.received
        assert mail.rcpt_tos == [JEREMY]
        assert str(mail.message["Subject"]) == "admin invites you to City Group"
        link = link_of(body_of(mail.message))
        assert "Welcome to MySmartPlan." in body_of(mail.message)

        page = open_link(browser, link)
        assert "City Group" in page.text and "Welcome to MySmartPlan." in page.text
        done = register(browser, link)
        assert done.status_code == 303, done.text
        assert done.headers["location"] == f"/invite/welcome?invitation={invitation['id']}"
        welcome = browser.get(done.headers["location"])
        assert "You are now a member of City Group." in welcome.text
        jeremy = user_by_email(runtime, JEREMY)
        assert jeremy.status == "active" and jeremy.domain.name == "ENTERPRISE"
        assert (jeremy.first_name, jeremy.last_name, jeremy.phone) == (
            "Jeremy",
            "Mills",
            "+41446681800",
        )
        assert groups_of(client, city, str(jeremy.id)) == {"Administrators"}
        assert client.get(f"{URL}/{invitation['id']}").json()["state"] == "accepted"

        # The link works once.
        again = new_browser(runtime)
        assert unusable(open_link(again, link)) == "accepted"

        # Jeremy signs in again later, in another browser.
        later = new_browser(runtime)
        to_login = later.get("/account/security")
        login = later.get(to_login.headers["location"])
        flow = re.search(r'name="flow" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
        signed_in = later.post(
            "/login",
            data={
                "flow": flow,
                "csrf": csrf_of(login.text),
                "username": JEREMY,
                "password": PASSWORD,
            },
        )
        assert signed_in.headers["location"] == "/account/security"

        # As City Group's administrator he invites two colleagues into a group of his own.
        api = TestClient(app_for(runtime), client=LOCAL_CLIENT)
        api.auth = (jeremy.username, PASSWORD)
        planners = api.post(
            f"/api/v1/contexts/{city}/groups",
            json={"name": "Planners", "rights": {"ostiary": {"access": True, "users.read": True}}},
        )
        assert planners.status_code == 201, planners.text
        for email in ("anna.berg@citygroup.example", "tom.hill@citygroup.example"):
            sent = api.post(URL, json={"context_id": city, "email": email, "groups": ["Planners"]})
            assert sent.status_code == 201, sent.text
            assert sent.json()["inviter"] == "Jeremy Mills"
            assert sent.json()["as_administrator"] is False
        assert MessageWorker(runtime).run_once().sent == 2
        anna_mail = next(
            m for m in mailbox.received if m.rcpt_tos == ["anna.berg@citygroup.example"]
        )
        assert str(anna_mail.message["Subject"]) == "Jeremy Mills invites you to City Group"
        anna_link = link_of(body_of(anna_mail.message))
        accepted = register(new_browser(runtime), anna_link, first_name="Anna", last_name="Berg")
        assert accepted.status_code == 303, accepted.text
    anna = user_by_email(runtime, "anna.berg@citygroup.example")
    assert groups_of(client, city, str(anna.id)) == {"Planners"}
    states = {
        i["email"]: i["state"] for i in api.get(URL, params={"context": city}).json()["items"]
    }
    assert states == {
        JEREMY: "accepted",
        "anna.berg@citygroup.example": "accepted",
        "tom.hill@citygroup.example": "pending",
    }
    with runtime.sessions() as session:
        actions = [
            e.action
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.actor == "anna.berg@citygroup.example")
                .order_by(AuditEvent.id)
            )
        ]
    assert sorted(actions) == [
        "group.member_added",
        "invitation.accepted",
        "membership.added",
        "session.started",
        "user.created",
    ]
    # Sent over SMTP, the messages keep no text: no link is stored in clear anywhere.
    tokens = [link.split("token=")[1] for link in (link, anna_link)]
    with runtime.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(table.select()):
                text = repr(tuple(row))
                assert not any(token in text for token in tokens), table.name


def test_links_that_no_longer_work_say_why(
    client: TestClient, browser: TestClient, runtime: Runtime, city: str
) -> None:
    expired = invite(client, city, "late@citygroup.example")
    revoked = invite(client, city, "gone@citygroup.example")
    resent = invite(client, city, "twice@citygroup.example")
    expired_link = outbox_link(runtime, "late@citygroup.example")
    revoked_link = outbox_link(runtime, "gone@citygroup.example")
    old_link = outbox_link(runtime, "twice@citygroup.example")
    with runtime.sessions() as session, session.atomic():
        session.execute(
            update(Invitation)
            .where(Invitation.id == uuid.UUID(expired["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    client.post(f"{URL}/{revoked['id']}/revoke")
    client.post(f"{URL}/{resent['id']}/resend")
    new_link = outbox_link(runtime, "twice@citygroup.example")
    page = open_link(browser, expired_link)
    assert page.status_code == 410 and unusable(page) == "expired"
    assert "has expired" in page.text
    page = open_link(browser, revoked_link)
    assert page.status_code == 410 and unusable(page) == "revoked"
    page = open_link(browser, old_link)
    assert page.status_code == 404 and unusable(page) == "invalid"
    assert unusable(open_link(browser, "/invite?token=made-up")) == "invalid"
    closing = invite(client, city, "closing@citygroup.example")
    closing_link = outbox_link(runtime, "closing@citygroup.example")
    assert client.patch(f"/api/v1/contexts/{city}", json={"status": "closed"}).status_code == 200
    page = open_link(browser, closing_link)
    assert page.status_code == 410 and unusable(page) == "closed"
    assert closing["state"] == "pending"
    assert client.patch(f"/api/v1/contexts/{city}", json={"status": "active"}).status_code == 200
    assert unusable(browser.get("/invite")) == "invalid"
    # Posting the form with a dead link creates nothing.
    browser.get(old_link)
    refused = browser.post(
        "/invite/register",
        data={"csrf": "x", "first_name": "A", "last_name": "B", "password": PASSWORD},
    )
    assert refused.status_code == 404
    assert register(new_browser(runtime), new_link).status_code == 303


def test_bad_input_is_shown_by_the_field_and_the_link_stays_usable(
    client: TestClient, browser: TestClient, runtime: Runtime, city: str
) -> None:
    invite(client, city, JEREMY)
    link = outbox_link(runtime, JEREMY)
    page = register(
        browser,
        link,
        first_name="Jeremy",
        last_name="",
        password="short",
        phone="12",
        confirmation="x",
    )
    assert page.status_code == 422
    for field in ("last_name", "password", "confirmation", "phone"):
        assert f'id="{field}-error"' in page.text, field
    assert 'value="Jeremy"' in page.text and 'value="12"' in page.text
    assert 'value="short"' not in page.text
    with runtime.sessions() as session:
        assert session.scalars(select(User).where(User.email_key == JEREMY)).first() is None
    assert register(browser, link).status_code == 303


def test_an_existing_user_joins_with_their_login(
    client: TestClient, browser: TestClient, runtime: Runtime, city: str
) -> None:
    other = make_context(client, root_id(client), "account", "Other Ltd", key="other")
    make_user(
        client,
        "kim",
        email="kim@other.example",
        status="active",
        password=PASSWORD,
        context_ids=[other["id"]],
    )
    group = client.post(f"/api/v1/contexts/{city}/groups", json={"name": "Guests"}).json()
    invitation = invite(
        client, city, "Kim@Other.Example", groups=["Guests"], as_administrator=False
    )
    page = open_link(browser, outbox_link(runtime, "kim@other.example"))
    assert 'action="/invite/sign-in"' in page.text and "register" not in page.text
    to_login = browser.post("/invite/sign-in", data={"csrf": csrf_of(page.text)})
    login = browser.get(to_login.headers["location"])
    assert 'value="Kim@other.example"' in login.text
    flow = re.search(r'name="flow" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
    back = browser.post(
        "/login",
        data={"flow": flow, "csrf": csrf_of(login.text), "username": "kim", "password": PASSWORD},
    )
    assert back.headers["location"] == "/invite"
    page = browser.get("/invite")
    assert 'action="/invite/join"' in page.text
    joined = browser.post("/invite/join", data={"csrf": csrf_of(page.text)})
    assert joined.headers["location"] == f"/invite/welcome?invitation={invitation['id']}"
    assert "You are now a member of City Group." in browser.get(joined.headers["location"]).text
    kim = user_by_email(runtime, "kim@other.example")
    # The link came back from Kim's address: it is verified now.
    assert kim.email_verified is True
    contexts = {c["context_id"] for c in client.get(f"/api/v1/users/{kim.id}/contexts").json()}
    assert contexts == {other["id"], city}
    assert groups_of(client, city, str(kim.id)) == {"Guests"}
    assert group["name"] == "Guests"


def test_a_signed_in_person_with_another_address_is_refused(
    client: TestClient, browser: TestClient, runtime: Runtime, city: str
) -> None:
    invite(client, city, JEREMY)
    register(browser, outbox_link(runtime, JEREMY))
    invite(client, city, "someone.else@citygroup.example", groups=[])
    link = outbox_link(runtime, "someone.else@citygroup.example")
    page = open_link(browser, link)
    assert 'id="invitation-mismatch"' in page.text and "/invite/join" not in page.text
    # Even a well-formed join (the form's token computed) is refused.
    csrf = form_token(runtime, link.split("token=")[1])
    forced = browser.post("/invite/join", data={"csrf": csrf})
    assert forced.status_code == 409 and 'id="invitation-error"' in forced.text
    listed = client.get(URL, params={"email": "someone.else@citygroup.example"}).json()
    assert listed["items"][0]["state"] == "pending"


def test_a_forged_form_is_ignored(
    client: TestClient, browser: TestClient, runtime: Runtime, city: str
) -> None:
    invite(client, city, JEREMY)
    open_link(browser, outbox_link(runtime, JEREMY))
    forged = browser.post(
        "/invite/register",
        data={
            "csrf": "0" * 64,
            "first_name": "E",
            "last_name": "Ve",
            "password": PASSWORD,
            "confirmation": PASSWORD,
        },
    )
    assert forged.status_code == 303 and forged.headers["location"] == "/invite"
    with runtime.sessions() as session:
        assert session.scalars(select(User).where(User.email_key == JEREMY)).first() is None


def test_a_required_second_factor_is_given_before_the_session(
    client: TestClient, browser: TestClient, runtime: Runtime, city: str
) -> None:
    runtime.settings.two_factor = "email"
    invite(client, city, JEREMY)
    done = register(browser, outbox_link(runtime, JEREMY))
    location = done.headers["location"]
    assert location.startswith("/login/second-factor?flow="), location
    assert browser.get("/account/security").status_code == 303  # not signed in yet
    flow = location.split("flow=")[1]
    page = browser.get(location)
    jeremy = user_by_email(runtime, JEREMY)
    code = last_code(runtime, jeremy.username)
    entered = browser.post(
        "/login/second-factor",
        data={"flow": flow, "csrf": csrf_of(page.text), "method": "code", "code": code},
    )
    assert entered.headers["location"].startswith("/invite/welcome?invitation=")
    assert "You are now a member of City Group." in browser.get(entered.headers["location"]).text


def test_sms_codes_need_a_phone_number(
    client: TestClient, browser: TestClient, runtime: Runtime, city: str
) -> None:
    runtime.settings.two_factor = "sms"
    invite(client, city, JEREMY)
    page = register(browser, outbox_link(runtime, JEREMY), phone="")
    assert page.status_code == 422 and 'id="phone-error"' in page.text


def test_a_lead_gets_the_lead_role_and_the_crm_is_told(
    client: TestClient, browser: TestClient, runtime: Runtime, city: str
) -> None:
    invite(client, city, "first@citygroup.example", as_administrator=False)
    invitation = invite(client, city, "lead@prospect.example", lead=True)
    assert invitation["as_administrator"] is False
    assert register(browser, outbox_link(runtime, "lead@prospect.example")).status_code == 303
    lead = user_by_email(runtime, "lead@prospect.example")
    assert client.get(f"/api/v1/users/{lead.id}").json()["email_verified"] is True
    groups = client.get(f"/api/v1/contexts/{city}/groups").json()
    [group] = [g for g in groups if g["name"] == "lead"]
    assert group["role"] == "lead" and group["rights"] == {}
    assert groups_of(client, city, str(lead.id)) == {"lead"}
    events = client.get("/api/v1/audit-events", params={"action": "user.registered"}).json()
    [event] = events["items"]
    assert event["target_id"] == str(lead.id) and event["changes"]["lead"] is True
    assert event["context_id"] == city


def test_german_pages(client: TestClient, browser: TestClient, runtime: Runtime, city: str) -> None:
    invite(client, city, JEREMY, language="de")
    page = open_link(browser, outbox_link(runtime, JEREMY))
    assert page.text.startswith('<!doctype html>\n<html lang="de">')
    assert "Konto" in page.text


def test_a_draft_account_is_set_up_by_accepting(
    client: TestClient, browser: TestClient, runtime: Runtime, city: str
) -> None:
    # Imported from the CRM as a draft member of City Group, then invited.
    draft = make_user(client, "jeremy", email=JEREMY, context_ids=[city], first_name="J.")
    assert draft["status"] == "draft"
    invite(client, city, JEREMY)
    page = open_link(browser, outbox_link(runtime, JEREMY))
    assert 'action="/invite/register"' in page.text
    assert register(browser, outbox_link(runtime, JEREMY)).status_code == 303
    jeremy = user_by_email(runtime, JEREMY)
    assert (str(jeremy.id), jeremy.username, jeremy.status) == (draft["id"], "jeremy", "active")
    assert jeremy.first_name == "Jeremy" and jeremy.password_hash
    assert groups_of(client, city, draft["id"]) == {"Administrators"}
    actions = {
        e["action"]
        for e in client.get("/api/v1/audit-events", params={"target": draft["id"]}).json()["items"]
    }
    assert {"user.updated", "user.password_set", "user.activated"} <= actions


def test_a_lead_who_registers_instead_of_following_the_link_is_a_lead_too(
    client: TestClient, runtime: Runtime, city: str
) -> None:
    from tests.registrations.support import browser as registration_browser
    from tests.registrations.support import code_for, enter_code, person, submit

    runtime.settings.registration_parent = "root"
    invite(client, city, "first@citygroup.example", as_administrator=False)
    invitation = invite(client, city, "lead@prospect.example", lead=True)
    web = registration_browser(runtime)
    answer = submit(web, organization="Prospect Ltd", **person("lead@prospect.example"))
    assert answer.status_code == 303
    registered = {"action": "user.registered"}
    # Nothing before the address is proven.
    assert client.get("/api/v1/audit-events", params=registered).json()["items"] == []
    assert user_by_email(runtime, "lead@prospect.example").status == "draft"

    done = enter_code(web, answer.headers["location"], code_for(runtime, "lead@prospect.example"))
    assert 'id="registration-submitted"' in done.text
    lead = user_by_email(runtime, "lead@prospect.example")
    assert lead.status == "active" and lead.email_verified is True
    assert groups_of(client, city, str(lead.id)) == {"lead"}
    [event] = client.get("/api/v1/audit-events", params=registered).json()["items"]
    assert event["target_id"] == str(lead.id) and event["context_id"] == city
    assert event["changes"] == {"lead": True, "invitation": invitation["id"]}
    # The invitation is taken up: its link says so.
    assert client.get(f"{URL}/{invitation['id']}").json()["state"] == "accepted"
    with new_browser(runtime) as other:
        assert unusable(open_link(other, outbox_link(runtime, "lead@prospect.example"))) == (
            "accepted"
        )
    # The registration of Prospect Ltd goes on as usual; approving it tells nothing new.
    [row] = client.get("/api/v1/registrations", params={"state": "pending"}).json()["items"]
    assert row["user_id"] == str(lead.id)
    assert client.post(f"/api/v1/registrations/{row['id']}/approve").status_code == 200
    assert len(client.get("/api/v1/audit-events", params=registered).json()["items"]) == 1
