"""The SmartPlan story of document 000, end to end over HTTP: the CRM creates City Group and its
contract, staff invite Jeremy Mills, he invites two colleagues and one accepts, KOKO Media
registers itself and is approved, a person joins KOKO Media with its contact person's
approval, City Group's contract ends and its people can no longer sign in. Mail goes through a
real SMTP server; every webhook arrives at a real receiver and is verified with the
``standardwebhooks`` reference implementation."""

from __future__ import annotations

import re
from datetime import date, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from ostiary.contracts.lifecycle import ContractLifecycle
from ostiary.messages.outbox import MessageWorker
from ostiary.runtime import Runtime
from tests.api.test_service_accounts import bearer, token_for
from tests.api.test_service_accounts import register as register_client
from tests.conftest import LOCAL_CLIENT
from tests.helpers import root_id
from tests.messages.servers import smtp_server
from tests.protocols.oidc.conftest import REDIRECT, make_client
from tests.protocols.oidc.test_attacks import authorize_params
from tests.registrations.support import browser, csrf_of
from tests.webhooks.conftest import deliver
from tests.webhooks.receiver import Receiver, receiver

JEREMY = "jeremy.mills@citygroup.example"
ANNA = "anna.berg@citygroup.example"
TOM = "tom.hill@citygroup.example"
KIM = "kim.koko@koko.example"
MAX = "max.muster@mail.example"
PASSWORD = "City Group keeps the lights on"
TODAY = date.today()


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "message_worker": False,
        "webhooks_worker": False,
        "webhooks_allow_loopback": True,
        "registration_parent": "root",
        "two_factor_resend_seconds": 0,
    }


def body_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


class Story:
    """The mailbox and the receiver, read as the story goes."""

    def __init__(self, runtime: Runtime, mailbox: Any, hook: Receiver) -> None:
        self.runtime = runtime
        self.mailbox = mailbox
        self.hook = hook

    def mail_to(self, address: str) -> str:
        MessageWorker(self.runtime).run_once()
        found = [m for m in self.mailbox.received if m.rcpt_tos == [address]]
        assert found, f"no mail to {address}"
        return body_of(found[-1].message)

    def link(self, address: str, path: str) -> str:
        match = re.search(
            rf"http://testserver({re.escape(path)}\?token=[\w-]+)", self.mail_to(address)
        )
        assert match, self.mail_to(address)
        return match.group(1)

    def code(self, address: str) -> str:
        match = re.search(r"\b(\d{6,10})\b", self.mail_to(address))
        assert match
        return match.group(1)


def accept(web: TestClient, link: str, first: str, last: str) -> Any:
    moved = web.get(link)
    assert moved.status_code == 303
    page = web.get("/invite")
    assert 'action="/invite/register"' in page.text, page.text
    return web.post(
        "/invite/register",
        data={
            "csrf": csrf_of(page.text),
            "first_name": first,
            "last_name": last,
            "password": PASSWORD,
            "confirmation": PASSWORD,
            "language": "en",
        },
    )


def sign_in(runtime: Runtime, username: str) -> Any:
    """Signing in to the portal through the login form, in a fresh browser; the answer
    after the password."""
    web = browser(runtime)
    to_login = web.get("/oauth2/authorize", params=authorize_params())
    login = web.get(to_login.headers["location"])
    flow = re.search(r'name="flow" value="([^"]+)"', login.text)
    assert flow, login.text
    return web.post(
        "/login",
        data={
            "flow": flow.group(1),
            "csrf": csrf_of(login.text),
            "username": username,
            "password": PASSWORD,
        },
    )


def signed_in(answer: Any) -> bool:
    """Past the password: on to the application with a code, or to choosing a context."""
    location = answer.headers.get("location", "") if answer.status_code == 303 else ""
    return location.startswith(REDIRECT) or location.startswith("/login/context")


def register(runtime: Runtime, story: Story, *, join: bool, **fields: str) -> Any:
    web = browser(runtime)
    page = web.get("/register", params={"join": "true"} if join else {})
    form = {
        "csrf": csrf_of(page.text),
        "kind": "join" if join else "organization",
        "password": PASSWORD,
        "confirmation": PASSWORD,
        "language": "en",
        **fields,
    }
    sent = web.post("/register", data=form)
    assert sent.status_code == 303, sent.text
    location = sent.headers["location"]
    page = web.get(location)
    registration = re.search(r'name="registration" value="([^"]+)"', page.text)
    assert registration
    return web.post(
        "/register/verify",
        data={
            "csrf": csrf_of(page.text),
            "registration": registration.group(1),
            "code": story.code(fields["email"]),
        },
    )


def test_the_smartplan_story(client: TestClient, runtime: Runtime) -> None:
    root = root_id(client)
    make_client(runtime, "spa")
    # Contact persons may use the admin API from SmartPlan's network.
    template = client.get("/api/v1/acl-templates/account-administrator").json()
    template["rights"]["ostiary"]["API IP Allow"] = "127.0.0.0/8"
    patched = client.patch(
        "/api/v1/acl-templates/account-administrator", json={"rights": template["rights"]}
    )
    assert patched.status_code == 200
    # SmartPlan's CRM: a client with a service account that holds what it needs at the root.
    crm = register_client(client, "crm", name="SmartPlan CRM")
    account = crm["service_account_user_id"]
    assert client.put(f"/api/v1/users/{account}/contexts/{root}").status_code == 204
    rights = {
        "access": True,
        "contexts.read": True,
        "contexts.manage": True,
        "contracts.manage": True,
        "invitations.manage": True,
        "API IP Allow": "127.0.0.0/8",
    }
    group = client.post(
        f"/api/v1/contexts/{root}/groups", json={"name": "CRM", "rights": {"ostiary": rights}}
    ).json()
    assert client.put(f"/api/v1/contexts/{root}/groups/{group['id']}/members/{account}")
    headers = bearer(token_for(client, "crm", crm["client_secret"]))

    with smtp_server() as (port, mailbox), receiver() as hook:
        runtime.settings.smtp_url = SecretStr(f"smtp://127.0.0.1:{port}")
        subscription = client.post(
            "/api/v1/webhooks", json={"context_id": root, "url": f"{hook.url}/crm"}
        )
        assert subscription.status_code == 201, subscription.text
        secret = subscription.json()["secret"]
        story = Story(runtime, mailbox, hook)

        # 1. The CRM creates City Group and its contract.
        made = client.post(
            "/api/v1/contexts",
            json={"type": "account", "name": "City Group", "parent_id": root, "number": "CG-1"},
            headers=headers,
            auth=None,
        )
        assert made.status_code == 201, made.text
        city = made.json()["id"]
        contract = client.put(
            "/api/v1/contracts/CG-C1",
            json={
                "account": "CG-1",
                "product": "MySmartPlan Business",
                "status": "active",
                "starts_on": (TODAY - timedelta(days=365)).isoformat(),
            },
            headers=headers,
            auth=None,
        )
        assert contract.status_code in (200, 201), contract.text

        # 2. Staff invite Jeremy Mills; he accepts and signs in.
        invited = client.post("/api/v1/invitations", json={"context_id": city, "email": JEREMY})
        assert invited.status_code == 201 and invited.json()["as_administrator"] is True
        done = accept(browser(runtime), story.link(JEREMY, "/invite"), "Jeremy", "Mills")
        assert done.status_code == 303, done.text
        assert signed_in(sign_in(runtime, JEREMY))

        # 3. Jeremy invites two colleagues; Anna accepts.
        jeremy = TestClient(client.app, client=LOCAL_CLIENT)
        jeremy.auth = (_username(client, JEREMY), PASSWORD)
        for email in (ANNA, TOM):
            sent = jeremy.post("/api/v1/invitations", json={"context_id": city, "email": email})
            assert sent.status_code == 201, sent.text
            assert sent.json()["inviter"] == "Jeremy Mills"
        assert (
            accept(browser(runtime), story.link(ANNA, "/invite"), "Anna", "Berg").status_code == 303
        )

        # 4. KOKO Media registers itself as an SME; staff approve it.
        submitted = register(
            runtime,
            story,
            join=False,
            organization="KOKO Media",
            number="KM-7",
            email_domains="koko.example",
            first_name="Kim",
            last_name="Koko",
            email=KIM,
        )
        assert 'id="registration-submitted"' in submitted.text
        assert not signed_in(sign_in(runtime, KIM))  # a draft cannot
        [pending] = client.get("/api/v1/registrations", params={"state": "pending"}).json()["items"]
        assert pending["organization"] == "KOKO Media"
        approved = client.post(f"/api/v1/registrations/{pending['id']}/approve")
        assert approved.status_code == 200, approved.text
        koko = pending["context_id"]
        assert "KOKO Media" in story.mail_to(KIM) and "approved" in story.mail_to(KIM)
        assert signed_in(sign_in(runtime, KIM))

        # 5. Max asks to join KOKO Media; Kim, its contact person, approves.
        asked = register(
            runtime,
            story,
            join=True,
            organization="KM-7",
            first_name="Max",
            last_name="Muster",
            email=MAX,
        )
        assert 'id="registration-submitted"' in asked.text
        assert "Max Muster" in story.mail_to(KIM)
        kim = TestClient(client.app, client=LOCAL_CLIENT)
        kim.auth = (_username(client, KIM), PASSWORD)
        [request] = kim.get("/api/v1/join-requests", params={"state": "pending"}).json()["items"]
        assert request["email"] == MAX and request["context_id"] == koko
        assert kim.post(f"/api/v1/join-requests/{request['id']}/approve").status_code == 200
        assert signed_in(sign_in(runtime, MAX))

        # 6. City Group's contract ends; after the grace period its people cannot sign in.
        ended = client.patch(
            "/api/v1/contracts/CG-C1",
            json={"status": "ended", "ends_on": (TODAY - timedelta(days=1)).isoformat()},
            headers=headers,
            auth=None,
        )
        assert ended.status_code == 200, ended.text
        grace = runtime.settings.contract_grace_days
        changes = ContractLifecycle(runtime.sessions, grace).run(TODAY + timedelta(days=grace + 2))
        assert any("context.suspended" in str(c) and "City Group" in str(c) for c in changes)
        for person in (JEREMY, ANNA):
            page = sign_in(runtime, person)
            assert page.status_code == 403 and "suspended" in page.text, page.headers
        assert signed_in(sign_in(runtime, KIM))

        # Every webhook the story caused arrived, signed.
        while deliver(runtime).delivered:
            pass
        types = hook.types()
        for received in hook.received:
            assert received.verified(secret)["type"] in types
        assert set(types) == {
            "contract.created",
            "contract.updated",
            "organization.approved",
            "organization.registered",
            "organization.suspended",
            "user.activated",
            "user.created",
            "user.invited",
            "user.joined_context",
            "user.registered",
        }
        # Three invitations; Jeremy, Anna, Kim and Max created; each joined once.
        assert len(hook.of_type("user.invited")) == 3
        assert len(hook.of_type("user.created")) == 4
        assert len(hook.of_type("user.joined_context")) == 4
        registered = hook.of_type("organization.registered")[0].json["data"]
        assert registered["object"]["organization"] == "KOKO Media"
        assert registered["object"]["number"] == "KM-7"
        contract_event = hook.of_type("contract.created")[0].json["data"]
        assert contract_event["object"]["external_id"] == "CG-C1"
        invited_event = hook.of_type("user.invited")[0].json["data"]
        assert "token" not in str(invited_event["object"])
        assert invited_event["object"]["email"] == JEREMY
        joined = [r.json["data"]["context_id"] for r in hook.of_type("user.joined_context")]
        assert city in joined and koko in joined


def _username(client: TestClient, email: str) -> str:
    found = client.get("/api/v1/users", params={"email": email}).json()["items"]
    [user] = [u for u in found if u["email"] == email]
    return str(user["username"])
