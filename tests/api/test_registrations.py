"""``/api/v1/registrations`` and ``/api/v1/join-requests``: approving and rejecting, the rules
that approve at once, reach, and grants on approval."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.audit.models import AuditEvent
from ostiary.contexts.models import Context
from ostiary.runtime import Runtime
from ostiary.users.models import User
from tests.api.test_authorization import api_user, grant
from tests.helpers import assert_problem, make_context, make_user, root_id
from tests.registrations.support import (
    OVERRIDES,
    PASSWORD,
    browser,
    person,
    register,
    sent_to,
)

KIM = "kim@koko.example"
CONTACT = {
    "access": True,
    "contexts.read": True,
    "users.read": True,
    "groups.manage": True,
    "registrations.manage": True,
    "API IP Allow": "127.0.0.0/8",
}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(OVERRIDES)


def _pending(client: TestClient, url: str = "/api/v1/registrations") -> list[dict[str, Any]]:
    answer = client.get(url, params={"state": "pending"})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def _user(runtime: Runtime, email: str) -> User | None:
    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.email_key == email)).one_or_none()
        if user is not None:
            session.expunge(user)
        return user


def _context(runtime: Runtime, context_id: str) -> Context:
    with runtime.sessions() as session:
        context = session.get(Context, uuid.UUID(context_id))
        assert context is not None
        session.expunge(context)
        return context


def _actions(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def _koko(runtime: Runtime, **extra: str) -> dict[str, Any]:
    done = register(runtime, browser(runtime), organization="KOKO Media", **person(KIM), **extra)
    assert 'id="registration-submitted"' in done.text or 'id="registration-approved"' in done.text
    return {}


def test_back_office_approves_a_registration(client: TestClient, runtime: Runtime) -> None:
    _koko(runtime, number="K-1")
    [row] = _pending(client)
    assert (row["organization"], row["number"], row["email"]) == ("KOKO Media", "K-1", KIM)
    approved = client.post(f"/api/v1/registrations/{row['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved" and approved.json()["decided_by"] == "admin"
    assert _context(runtime, row["context_id"]).status == "active"
    kim = _user(runtime, KIM)
    assert kim is not None and kim.status == "active"
    groups = client.get(f"/api/v1/contexts/{row['context_id']}/groups").json()
    assert [g["name"] for g in groups] == ["Administrators"]
    [mail] = sent_to(runtime, KIM, "registration-approved")
    assert "KOKO Media" in (mail.subject or "")
    actions = _actions(runtime)
    for action in ("registration.submitted", "membership.added", "registration.approved"):
        assert action in actions
    # Deciding twice is refused.
    assert_problem(
        client.post(f"/api/v1/registrations/{row['id']}/approve"), 409, "invalid-transition"
    )


def test_rejecting_tells_the_person_and_leaves_nothing_active(
    client: TestClient, runtime: Runtime
) -> None:
    _koko(runtime, number="K-1")
    [row] = _pending(client)
    assert_problem(
        client.post(f"/api/v1/registrations/{row['id']}/reject", json={}), 422, "invalid-input"
    )
    rejected = client.post(
        f"/api/v1/registrations/{row['id']}/reject", json={"reason": "Unknown company"}
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["state"] == "rejected" and rejected.json()["user_id"] is None
    context = _context(runtime, row["context_id"])
    assert context.status == "closed" and context.number is None
    assert _user(runtime, KIM) is None
    [mail] = sent_to(runtime, KIM, "registration-rejected")
    assert "Unknown company" in (mail.text or "")
    assert "registration.rejected" in _actions(runtime)
    # The address and the number are free for a registration that is right.
    _koko(runtime, number="K-1")


def test_a_running_contract_for_the_number_approves_at_once(
    client: TestClient, runtime: Runtime
) -> None:
    # The CRM knew first: the organization with its contract, waiting for its contact person.
    koko = make_context(
        client, root_id(client), "account", "KOKO Media", number="K-1", status="pending"
    )
    contract = client.post(
        "/api/v1/contracts",
        json={
            "external_id": "C-1",
            "account": "K-1",
            "product": "Energy",
            "status": "active",
            "starts_on": "2020-01-01",
        },
    )
    assert contract.status_code == 201, contract.text
    done = register(runtime, browser(runtime), organization="KOKO", number="K-1", **person(KIM))
    assert 'id="registration-approved"' in done.text
    assert _context(runtime, koko["id"]).status == "active"
    [row] = client.get("/api/v1/registrations").json()["items"]
    assert row["state"] == "approved" and row["decided_by"] == "rule: running contract"
    assert row["context_id"] == koko["id"]
    # The number is taken now: nobody else registers under it.
    again = register_answer(runtime, number="K-1", email="eve@evil.example")
    assert again.status_code == 422 and 'id="number-error"' in again.text


def register_answer(runtime: Runtime, number: str, email: str) -> Any:
    from tests.registrations.support import submit

    return submit(browser(runtime), organization="Evil", number=number, **person(email))


def test_a_contract_that_arrives_later_approves_when_the_instance_says_so(
    client: TestClient, runtime: Runtime
) -> None:
    _koko(runtime, number="K-1")
    [row] = _pending(client)
    body = {
        "external_id": "C-1",
        "account": "K-1",
        "product": "Energy",
        "status": "active",
        "starts_on": "2020-01-01",
    }
    runtime.settings.registration_approve_on_contract = False
    assert client.post("/api/v1/contracts", json=body).status_code == 201
    assert _pending(client) != []
    runtime.settings.registration_approve_on_contract = True
    changed = client.patch("/api/v1/contracts/C-1", json={"product": "Energy Plus"})
    assert changed.status_code == 200, changed.text
    assert _pending(client) == []
    assert _context(runtime, row["context_id"]).status == "active"
    kim = _user(runtime, KIM)
    assert kim is not None and kim.status == "active"


def test_reach_is_the_subtree_and_others_are_not_found(
    client: TestClient, anonymous: TestClient, runtime: Runtime
) -> None:
    root = root_id(client)
    tenant = make_context(client, root, "tenant", "Tenant", key="tenant")
    make_context(client, root, "tenant", "Elsewhere", key="elsewhere")
    api_user(client, "staff", [tenant["id"]])
    grant(runtime, "staff", "tenant", CONTACT)
    runtime.settings.registration_parent = "elsewhere"
    _koko(runtime)
    [row] = _pending(client)
    anonymous.auth = ("staff", "pw of ffats 123")
    assert _pending(anonymous) == []
    for verb, body in (("approve", {}), ("reject", {"reason": "x"})):
        answer = anonymous.post(f"/api/v1/registrations/{row['id']}/{verb}", json=body)
        assert_problem(answer, 404, "not-found")
    assert_problem(anonymous.get(f"/api/v1/registrations/{row['id']}"), 404, "not-found")
    assert _pending(client)[0]["state"] == "pending"


@pytest.fixture
def koko(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """KOKO Media, active, with Kim as its contact person, a weak and a strong group."""
    root = root_id(client)
    context = make_context(
        client,
        root,
        "account",
        "KOKO Media",
        key="koko",
        number="K-1",
        email_domains=["koko.example"],
    )
    other = make_context(client, root, "account", "Other Ltd", key="other")
    api_user(client, "kim", [context["id"]], domain="ENTERPRISE")
    grant(runtime, "kim", "koko", CONTACT, group="Administrators")
    readers = client.post(
        f"/api/v1/contexts/{context['id']}/groups",
        json={"name": "Readers", "rights": {"ostiary": {"access": True, "users.read": True}}},
    ).json()
    strong = client.post(
        f"/api/v1/contexts/{context['id']}/groups",
        json={"name": "Strong", "rights": {"ostiary": {"access": True, "clients.manage": True}}},
    ).json()
    return {"id": context["id"], "other": other["id"], "readers": readers, "strong": strong}


def _ask(runtime: Runtime, email: str, organization: str = "K-1") -> Any:
    return register(
        runtime,
        browser(runtime),
        join=True,
        organization=organization,
        **person(email, first_name="Max"),
    )


def test_contact_persons_approve_a_join_request_with_groups_they_may_grant(
    client: TestClient, anonymous: TestClient, runtime: Runtime, koko: dict[str, Any]
) -> None:
    done = _ask(runtime, "max@gmail.example")
    assert 'id="registration-submitted"' in done.text
    anonymous.auth = ("kim", "pw of mik 123")
    [row] = _pending(anonymous, "/api/v1/join-requests")
    assert row["kind"] == "join" and row["context_id"] == koko["id"]
    # The contact person is told (a member of the Administrators group).
    assert sent_to(runtime, "kim@example.com", "join-request")
    # A group holding more than Kim holds is refused, audited, and nothing changes.
    refused = anonymous.post(
        f"/api/v1/join-requests/{row['id']}/approve", json={"groups": ["Strong"]}
    )
    assert_problem(refused, 403, "escalation-refused", field="groups[0]")
    assert any(a.endswith("refused") for a in _actions(runtime)), _actions(runtime)
    assert _pending(anonymous, "/api/v1/join-requests")[0]["state"] == "pending"
    max_ = _user(runtime, "max@gmail.example")
    assert max_ is not None and max_.status == "draft"

    approved = anonymous.post(
        f"/api/v1/join-requests/{row['id']}/approve", json={"groups": ["Readers"]}
    )
    assert approved.status_code == 200, approved.text
    max_ = _user(runtime, "max@gmail.example")
    assert max_ is not None and max_.status == "active"
    members = client.get(f"/api/v1/contexts/{koko['id']}/groups/{koko['readers']['id']}/members")
    assert [m["id"] for m in members.json()] == [str(max_.id)]
    assert "membership.added" in _actions(runtime)
    signed_in = TestClient(client.app)
    signed_in.auth = ("max@gmail.example", PASSWORD)
    assert signed_in.get("/api/v1/me").status_code == 200


def test_a_contact_person_of_another_organization_cannot_decide(
    client: TestClient, anonymous: TestClient, runtime: Runtime, koko: dict[str, Any]
) -> None:
    api_user(client, "olga", [koko["other"]], domain="ENTERPRISE")
    grant(runtime, "olga", "other", CONTACT)
    _ask(runtime, "max@gmail.example")
    [row] = _pending(client, "/api/v1/join-requests")
    anonymous.auth = ("olga", "pw of aglo 123")
    assert _pending(anonymous, "/api/v1/join-requests") == []
    assert_problem(anonymous.post(f"/api/v1/join-requests/{row['id']}/approve"), 404, "not-found")
    # An organization registration is not a join request, and the other way round.
    assert_problem(client.post(f"/api/v1/registrations/{row['id']}/approve"), 404, "not-found")


def test_nobody_approves_their_own_join_request(
    client: TestClient, anonymous: TestClient, runtime: Runtime, koko: dict[str, Any]
) -> None:
    # A request whose registrant is the contact person deciding it (an existing account that
    # asked to join a sub-organization it administers from above, say).
    with runtime.sessions() as session, session.atomic():
        from ostiary.registrations.models import Registration

        kim = session.scalars(select(User).where(User.username == "kim")).one()
        row = Registration(
            kind="join",
            state="pending",
            context_id=uuid.UUID(koko["id"]),
            user_id=kim.id,
            organization_name="KOKO Media",
            email="kim@example.com",
            email_key="kim@example.com",
        )
        session.add(row)
        session.flush()
        row_id = row.id
    anonymous.auth = ("kim", "pw of mik 123")
    answer = anonymous.post(f"/api/v1/join-requests/{row_id}/approve")
    assert_problem(answer, 422, "rule-violation", field="id")


def test_a_verified_address_in_the_organizations_domain_joins_at_once(
    client: TestClient, runtime: Runtime, koko: dict[str, Any]
) -> None:
    runtime.settings.join_by_email_domain = True
    done = _ask(runtime, "max@koko.example", organization="KOKO Media")
    assert 'id="registration-approved"' in done.text
    max_ = _user(runtime, "max@koko.example")
    assert max_ is not None and max_.status == "active"
    [row] = client.get("/api/v1/join-requests").json()["items"]
    assert row["decided_by"] == "rule: e-mail domain"
    # Another domain still waits.
    _ask(runtime, "max@gmail.example")
    assert len(_pending(client, "/api/v1/join-requests")) == 1


def test_only_active_organizations_below_the_parent_take_requests(
    client: TestClient, runtime: Runtime, koko: dict[str, Any]
) -> None:
    from tests.registrations.support import submit

    answer = submit(
        browser(runtime), join=True, organization="No Such Org", **person("max@gmail.example")
    )
    assert answer.status_code == 422 and 'id="organization-error"' in answer.text
    assert _user(runtime, "max@gmail.example") is None


def test_a_signed_in_person_asks_to_join_with_their_account(
    client: TestClient, anonymous: TestClient, runtime: Runtime, koko: dict[str, Any]
) -> None:
    api_user(client, "pat", [koko["other"]], domain="ENTERPRISE")
    pat = TestClient(client.app)
    pat.auth = ("pat", "pw of tap 123")
    asked = pat.post("/api/v1/me/join-requests", json={"organization": "KOKO Media"})
    assert asked.status_code == 201, asked.text
    assert asked.json()["state"] == "pending" and asked.json()["email"] == "pat@example.com"
    again = pat.post("/api/v1/me/join-requests", json={"organization": "K-1"})
    assert_problem(again, 409, "already-exists", field="organization")
    nowhere = pat.post("/api/v1/me/join-requests", json={"organization": "Nowhere"})
    assert_problem(nowhere, 404, "not-found", field="organization")
    # Pat cannot decide it: no registrations.manage in KOKO Media.
    own = pat.post(f"/api/v1/join-requests/{asked.json()['id']}/approve")
    assert own.status_code == 403
    anonymous.auth = ("kim", "pw of mik 123")
    assert anonymous.post(f"/api/v1/join-requests/{asked.json()['id']}/approve").status_code == 200
    memberships = client.get(f"/api/v1/users/{asked.json()['user_id']}/contexts").json()
    assert koko["id"] in str(memberships)
    member = pat.post("/api/v1/me/join-requests", json={"organization": "K-1"})
    assert_problem(member, 409, "already-exists", field="organization")


def test_a_stranger_who_knows_the_number_waits_for_the_back_office(
    client: TestClient, runtime: Runtime
) -> None:
    koko = make_context(
        client,
        root_id(client),
        "account",
        "KOKO Media",
        number="K-1",
        status="pending",
        email_domains=["koko.example"],
    )
    contract = {
        "account": "K-1",
        "product": "Energy",
        "status": "active",
        "starts_on": "2020-01-01",
    }
    assert client.put("/api/v1/contracts/C-1", json=contract).status_code == 201
    done = register(
        runtime, browser(runtime), organization="KOKO", number="K-1", **person("eve@evil.example")
    )
    assert 'id="registration-submitted"' in done.text
    assert _context(runtime, koko["id"]).status == "pending"
    [row] = _pending(client)
    assert row["context_id"] == koko["id"] and row["email"] == "eve@evil.example"


def test_contact_persons_are_sent_the_console_page_of_the_request(
    client: TestClient, runtime: Runtime, koko: dict[str, Any]
) -> None:
    _ask(runtime, "max@gmail.example")
    [row] = _pending(client, "/api/v1/join-requests")
    [mail] = sent_to(runtime, "kim@example.com", "join-request")
    assert f"http://testserver/console/join-requests/{row['id']}" in (mail.text or "")
    assert "/api/v1/" not in (mail.text or "") + (mail.html or "")


def test_only_a_verified_address_joins_by_its_domain(
    client: TestClient, runtime: Runtime, koko: dict[str, Any]
) -> None:
    runtime.settings.join_by_email_domain = True

    def ask(username: str, **extra: Any) -> dict[str, Any]:
        make_user(
            client,
            username,
            status="active",
            email=f"{username}@koko.example",
            password=f"pw of {username[::-1]} 123",
            **extra,
        )
        person = TestClient(client.app)
        person.auth = (username, f"pw of {username[::-1]} 123")
        asked = person.post("/api/v1/me/join-requests", json={"organization": "KOKO Media"})
        assert asked.status_code == 201, asked.text
        return dict(asked.json())

    # An address in the domain that nobody proved waits for the contact persons.
    unproven = ask("pat")
    assert unproven["state"] == "pending" and unproven["email_verified_at"] is None
    # One the CRM vouched for joins at once.
    vouched = ask("quinn", email_verified=True)
    assert vouched["state"] == "approved" and vouched["decided_by"] == "rule: e-mail domain"
    assert vouched["email_verified_at"] is not None


def test_a_person_withdraws_their_own_waiting_request(
    client: TestClient, anonymous: TestClient, runtime: Runtime, koko: dict[str, Any]
) -> None:
    api_user(client, "pat", [koko["other"]], domain="ENTERPRISE")
    api_user(client, "olga", [koko["other"]], domain="ENTERPRISE")
    pat, olga = TestClient(client.app), TestClient(client.app)
    pat.auth = ("pat", "pw of tap 123")
    olga.auth = ("olga", "pw of aglo 123")
    asked = pat.post("/api/v1/me/join-requests", json={"organization": "K-1"})
    assert asked.status_code == 201, asked.text
    url = f"/api/v1/me/join-requests/{asked.json()['id']}/withdraw"
    anonymous.auth = ("kim", "pw of mik 123")
    assert [r["id"] for r in _pending(anonymous, "/api/v1/join-requests")] == [asked.json()["id"]]
    # Nobody else can take it back, not even a contact person who sees it.
    assert_problem(olga.post(url), 404, "not-found", field="id")
    assert_problem(anonymous.post(url), 404, "not-found", field="id")
    assert_problem(pat.post(f"/api/v1/me/join-requests/{uuid.uuid4()}/withdraw"), 404, "not-found")

    withdrawn = pat.post(url)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["state"] == "withdrawn" and withdrawn.json()["decided_by"] == "pat"
    assert _pending(anonymous, "/api/v1/join-requests") == []
    assert_problem(
        anonymous.post(f"/api/v1/join-requests/{asked.json()['id']}/approve"),
        409,
        "invalid-transition",
    )
    assert_problem(pat.post(url), 409, "invalid-transition", field="state")
    assert "join_request.withdrawn" in _actions(runtime)
    # It may ask again; once decided, that request stays decided.
    again = pat.post("/api/v1/me/join-requests", json={"organization": "K-1"})
    assert again.status_code == 201, again.text
    rejected = anonymous.post(
        f"/api/v1/join-requests/{again.json()['id']}/reject", json={"reason": "No"}
    )
    assert rejected.status_code == 200, rejected.text
    decided = pat.post(f"/api/v1/me/join-requests/{again.json()['id']}/withdraw")
    assert_problem(decided, 409, "invalid-transition", field="state")
    assert "rejected" in decided.json()["detail"]


def test_a_registrant_sees_the_other_invitations_to_their_address_once_admitted(
    client: TestClient, anonymous: TestClient, runtime: Runtime, koko: dict[str, Any]
) -> None:
    from tests.web.console.support import follow_sign_in

    invited = client.post(
        "/api/v1/invitations", json={"context_id": koko["other"], "email": "max@gmail.example"}
    )
    assert invited.status_code == 201, invited.text
    done = _ask(runtime, "max@gmail.example")
    assert 'id="registration-submitted"' in done.text
    # Proving the address by code takes up lead invitations only: this one still waits.
    invitation = client.get(f"/api/v1/invitations/{invited.json()['id']}").json()
    assert invitation["state"] == "pending" and invitation["accepted_user_id"] is None
    anonymous.auth = ("kim", "pw of mik 123")
    [row] = _pending(anonymous, "/api/v1/join-requests")
    assert anonymous.post(f"/api/v1/join-requests/{row['id']}/approve").status_code == 200

    page = follow_sign_in(
        browser(runtime), "/account/organizations", "max@gmail.example", password=PASSWORD
    )
    offered = page.split('id="invitations"', 1)[1].split("</ul>", 1)[0]
    assert f'id="invitation-{invited.json()["id"]}"' in offered and "Other Ltd" in offered
