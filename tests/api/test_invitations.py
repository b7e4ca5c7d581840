"""``/api/v1/invitations``: inviting one person or thousands, reach and grants, states, re-sending
and revoking, and what is stored of the links."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from ostiary.authn.models import OneTimeToken
from ostiary.db.types import utcnow
from ostiary.invitations.models import Invitation
from ostiary.messages.models import Message
from ostiary.runtime import Runtime
from tests.api.test_authorization import api_user, grant
from tests.helpers import assert_problem, make_context, make_user, root_id

URL = "/api/v1/invitations"
CONTACT_RIGHTS = {
    "access": True,
    "contexts.read": True,
    "users.read": True,
    "users.manage": True,
    "groups.manage": True,
    "invitations.manage": True,
    "audit.read": True,
    "API IP Allow": "127.0.0.0/8",
}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False}


@pytest.fixture
def world(client: TestClient, anonymous: TestClient, runtime: Runtime) -> dict[str, Any]:
    root = root_id(client)
    city = make_context(client, root, "account", "City Group", key="city")
    branch = make_context(client, city["id"], "account", "City Group North", key="city-north")
    other = make_context(client, root, "account", "Other Ltd", key="other")
    api_user(client, "jeremy", [city["id"]], domain="ENTERPRISE")
    grant(runtime, "jeremy", "city", CONTACT_RIGHTS, group="Contacts")
    readers = client.post(
        f"/api/v1/contexts/{city['id']}/groups",
        json={"name": "Readers", "rights": {"ostiary": {"access": True, "users.read": True}}},
    ).json()
    strong = client.post(
        f"/api/v1/contexts/{city['id']}/groups",
        json={"name": "Strong", "rights": {"ostiary": {"access": True, "clients.manage": True}}},
    ).json()
    anonymous.auth = ("jeremy", "pw of ymerej 123")
    return {
        "root": root,
        "city": city["id"],
        "branch": branch["id"],
        "other": other["id"],
        "readers": readers,
        "strong": strong,
        "as_contact": anonymous,
    }


def invite(client: TestClient, context: str, email: str, **extra: Any) -> Any:
    return client.post(URL, json={"context_id": context, "email": email, **extra})


def outbox(runtime: Runtime) -> list[Message]:
    with runtime.sessions() as session:
        stmt = select(Message).where(Message.purpose == "invitation").order_by(Message.id)
        return list(session.scalars(stmt))


def token_in(message: Message) -> str:
    match = re.search(r"http://testserver/invite\?token=(\S+)", message.text or "")
    assert match, message.text
    return match.group(1)


def test_staff_invite_anyone_anywhere(
    client: TestClient, world: dict[str, Any], runtime: Runtime
) -> None:
    created = invite(
        client,
        world["other"],
        "Ann.Other@Other.Example",
        groups=[],
        message="Welcome to the portal.",
        language="de",
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["state"] == "pending" and body["email"] == "Ann.Other@other.example"
    assert body["inviter"] == "admin" and body["as_administrator"] is True
    assert body["context_id"] == world["other"]
    expires = body["expires_at"]
    assert expires.startswith((utcnow() + timedelta(days=7)).date().isoformat())
    [mail] = outbox(runtime)
    assert mail.recipient == "Ann.Other@other.example" and mail.language == "de"
    assert mail.subject == "admin lädt Sie zu Other Ltd ein"
    assert "Welcome to the portal." in (mail.text or "")
    assert client.get(f"{URL}/{body['id']}").json()["state"] == "pending"


def test_a_second_pending_invitation_is_refused(client: TestClient, world: dict[str, Any]) -> None:
    assert invite(client, world["city"], "max@city.example").status_code == 201
    again = invite(client, world["city"], "MAX@city.example")
    assert_problem(again, 409, "already-exists", "email")
    # Another context is another invitation.
    assert invite(client, world["branch"], "max@city.example").status_code == 201


def test_a_member_is_not_invited_again(client: TestClient, world: dict[str, Any]) -> None:
    make_user(
        client, "member", status="active", context_ids=[world["city"]], email="member@city.example"
    )
    assert_problem(invite(client, world["city"], "member@city.example"), 409, "already-exists")


def test_groups_by_id_or_name_of_that_context(client: TestClient, world: dict[str, Any]) -> None:
    readers = world["readers"]
    by_name = invite(client, world["city"], "a@city.example", groups=["Readers"])
    by_id = invite(client, world["city"], "b@city.example", groups=[readers["id"]])
    assert (
        by_name.json()["groups"]
        == by_id.json()["groups"]
        == [{"id": readers["id"], "name": "Readers"}]
    )
    elsewhere = invite(client, world["other"], "c@city.example", groups=[readers["id"]])
    assert_problem(elsewhere, 404, "not-found", "groups[0]")
    unknown = invite(client, world["city"], "c@city.example", groups=["Readers", "Nope"])
    assert_problem(unknown, 404, "not-found", "groups[1]")


def test_bad_input_names_the_field(client: TestClient, world: dict[str, Any]) -> None:
    assert_problem(invite(client, world["city"], "not an address"), 422, "invalid-input", "email")
    assert_problem(
        invite(client, world["city"], "x@city.example", expires_in_days=0),
        422,
        "invalid-input",
        "expires_in_days",
    )
    missing = invite(client, "0190d1f4-0000-7000-8000-000000000000", "x@city.example")
    assert_problem(missing, 404, "not-found", "context_id")


def test_contact_person_invites_into_their_subtree_only(
    client: TestClient, world: dict[str, Any]
) -> None:
    me: TestClient = world["as_contact"]
    mine = invite(me, world["branch"], "colleague@city.example", groups=[])
    assert mine.status_code == 201, mine.text
    assert mine.json()["inviter"] == "jeremy"
    beyond = invite(me, world["other"], "someone@other.example")
    assert_problem(beyond, 404, "not-found")
    refused = client.get("/api/v1/audit-events", params={"action": "access.out_of_reach"}).json()
    assert any(e["context_id"] == world["other"] for e in refused["items"])
    assert client.get(URL, params={"email": "someone@other.example"}).json()["items"] == []
    # Invitations elsewhere are out of sight.
    staff = invite(client, world["other"], "hidden@other.example").json()
    assert_problem(me.get(f"{URL}/{staff['id']}"), 404, "not-found")
    assert_problem(me.post(f"{URL}/{staff['id']}/revoke"), 404, "not-found")
    seen = {i["email"] for i in me.get(URL).json()["items"]}
    assert seen == {"colleague@city.example"}


def test_no_group_stronger_than_the_inviter(
    client: TestClient, world: dict[str, Any], runtime: Runtime
) -> None:
    me: TestClient = world["as_contact"]
    refused = invite(me, world["city"], "eve@city.example", groups=["Readers", "Strong"])
    body = assert_problem(refused, 403, "escalation-refused", "groups[1]")
    assert "ostiary.clients.manage" in body["detail"]
    events = client.get(
        "/api/v1/audit-events", params={"action": "access.escalation_refused"}
    ).json()["items"]
    assert [e["target_id"] for e in events] == [world["strong"]["id"]]
    assert client.get(URL, params={"email": "eve@city.example"}).json()["items"] == []
    assert outbox(runtime) == []
    # Nor the administrators' group, whose template holds what the contact person lacks.
    admin = invite(me, world["branch"], "eve@city.example", as_administrator=True)
    assert_problem(admin, 403, "escalation-refused", "as_administrator")
    # What they hold, they can offer.
    assert invite(me, world["city"], "eve@city.example", groups=["Readers"]).status_code == 201


def test_states_are_listed_and_filtered(
    client: TestClient, world: dict[str, Any], runtime: Runtime
) -> None:
    ids = [invite(client, world["city"], f"p{n}@city.example").json()["id"] for n in range(4)]
    assert client.post(f"{URL}/{ids[1]}/revoke").json()["state"] == "revoked"
    with runtime.sessions() as session, session.atomic():
        session.execute(
            update(Invitation)
            .where(Invitation.email == "p2@city.example")
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    states = {i["email"]: i["state"] for i in client.get(URL).json()["items"]}
    assert states == {
        "p0@city.example": "pending",
        "p1@city.example": "revoked",
        "p2@city.example": "expired",
        "p3@city.example": "pending",
    }
    for state, emails in {
        "pending": {"p0@city.example", "p3@city.example"},
        "expired": {"p2@city.example"},
        "revoked": {"p1@city.example"},
        "accepted": set(),
    }.items():
        found = client.get(URL, params={"state": state}).json()["items"]
        assert {i["email"] for i in found} == emails, state
    assert client.get(URL, params={"context": world["branch"]}).json()["items"] == []
    assert len(client.get(URL, params={"email": "P0@City.Example"}).json()["items"]) == 1
    # Keyset pages, newest first.
    first = client.get(URL, params={"limit": 3}).json()
    rest = client.get(URL, params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [i["id"] for i in first["items"] + rest["items"]] == ids[::-1]
    assert_problem(client.get(URL, params={"state": "lost"}), 422, "invalid-input", "state")
    # An expired invitation gives way to a new one.
    assert invite(client, world["city"], "p2@city.example").status_code == 201


def test_resend_makes_a_new_link_and_revoke_ends_it(
    client: TestClient, world: dict[str, Any], runtime: Runtime
) -> None:
    created = invite(client, world["city"], "r@city.example").json()
    old = token_in(outbox(runtime)[0])
    with runtime.sessions() as session, session.atomic():
        session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
    resent = client.post(f"{URL}/{created['id']}/resend").json()
    assert resent["state"] == "pending" and resent["sent_count"] == 2
    new = token_in(outbox(runtime)[1])
    assert new != old
    events = client.get("/api/v1/audit-events", params={"target": created["id"]}).json()
    assert [e["action"] for e in events["items"]] == ["invitation.resent", "invitation.created"]
    revoked = client.post(f"{URL}/{created['id']}/revoke")
    assert revoked.json()["state"] == "revoked"
    assert client.post(f"{URL}/{created['id']}/revoke").json()["state"] == "revoked"
    assert_problem(client.post(f"{URL}/{created['id']}/resend"), 409, "invalid-transition")
    last = client.get("/api/v1/audit-events", params={"target": created["id"]}).json()
    assert last["items"][0]["action"] == "invitation.revoked"
    assert last["items"][0]["context_id"] == world["city"]


def test_the_token_is_stored_only_as_a_hash(
    client: TestClient, world: dict[str, Any], runtime: Runtime
) -> None:
    created = invite(client, world["city"], "h@city.example").json()
    token = token_in(outbox(runtime)[0])
    with runtime.sessions() as session:
        invitation = session.get(Invitation, uuid.UUID(created["id"]))
        assert invitation is not None
        row = session.get(OneTimeToken, invitation.token_id)
        assert row is not None and row.purpose == "invitation"
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr(
            [(c.name, getattr(invitation, c.key, None)) for c in Invitation.__table__.columns]
        )
    assert len(token) >= 43  # 32 random bytes


def test_a_batch_answers_per_entry(
    client: TestClient, world: dict[str, Any], runtime: Runtime
) -> None:
    good = [{"context_id": world["city"], "email": f"lead{n}@leads.example"} for n in range(1200)]
    entries: list[Any] = list(good)
    entries[7] = {"context_id": world["city"], "email": "no address"}
    entries[300] = {"context_id": world["other"], "email": "x@y.example", "groups": ["Readers"]}
    entries[450] = "not an object"
    entries[999] = {"context_id": world["city"], "email": "lead998@leads.example"}  # repeated
    entries.append({"context_id": world["city"], "email": "extra@leads.example", "lead": True})
    answer = client.post(f"{URL}/batch", json={"entries": entries})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["created"] == len(entries) - 4 and body["failed"] == 4
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(entries)))
    failed = {r["index"]: r["error"] for r in results if r["outcome"] == "failed"}
    assert failed[7]["field"] == "email" and failed[7]["status"] == 422
    assert failed[300]["field"] == "groups[0]" and failed[300]["status"] == 404
    assert failed[450]["status"] == 422
    assert failed[999]["field"] == "email" and failed[999]["status"] == 409
    assert all(r["id"] for r in results if r["outcome"] == "created")
    assert len(outbox(runtime)) == body["created"]
    # City Group has a member; of a batch into the empty branch, only the first invitation
    # makes its administrator.
    into_branch = [{"context_id": world["branch"], "email": f"b{n}@x.example"} for n in range(3)]
    assert client.post(f"{URL}/batch", json={"entries": into_branch}).json()["created"] == 3
    with runtime.sessions() as session:
        administrators = session.scalars(
            select(Invitation.email).where(Invitation.as_administrator.is_(True))
        ).all()
    assert administrators == ["b0@x.example"]
    listed = client.get(URL, params={"context": world["city"], "limit": 500}).json()
    assert len(listed["items"]) == 500 and listed["next_cursor"]


def test_a_batch_beyond_the_limit_is_refused_whole(
    client: TestClient, world: dict[str, Any], runtime: Runtime
) -> None:
    runtime.settings.invitation_batch_max = 3
    entries = [{"context_id": world["city"], "email": f"n{n}@x.example"} for n in range(4)]
    assert_problem(
        client.post(f"{URL}/batch", json={"entries": entries}), 422, "rule-violation", "entries"
    )
    assert client.get(URL).json()["items"] == []
    done = client.post(f"{URL}/batch", json={"entries": entries[:3]}).json()
    assert done["created"] == 3


def test_a_batch_of_a_contact_person_keeps_to_their_rights(
    client: TestClient, world: dict[str, Any]
) -> None:
    me: TestClient = world["as_contact"]
    entries = [
        {"context_id": world["city"], "email": "ok@city.example", "groups": ["Readers"]},
        {"context_id": world["city"], "email": "bad@city.example", "groups": ["Strong"]},
        {"context_id": world["other"], "email": "far@other.example"},
    ]
    body = me.post(f"{URL}/batch", json={"entries": entries}).json()
    assert [r["outcome"] for r in body["results"]] == ["created", "failed", "failed"]
    assert body["results"][1]["error"]["type"] == "urn:ostiary:problem:escalation-refused"
    assert body["results"][2]["error"]["status"] == 404
    for action in ("access.escalation_refused", "access.out_of_reach"):
        events = client.get("/api/v1/audit-events", params={"action": action}).json()["items"]
        assert events, action


def test_without_the_right_nothing(anonymous: TestClient, client: TestClient) -> None:
    api_user(client, "plain", [root_id(client)])
    anonymous.auth = ("plain", "pw of nialp 123")
    assert_problem(anonymous.get(URL), 403, "forbidden")
    assert_problem(anonymous.post(f"{URL}/batch", json={"entries": []}), 403, "forbidden")


def test_a_crm_invites_a_lead_with_client_credentials(
    client: TestClient, world: dict[str, Any], runtime: Runtime
) -> None:
    from tests.api.test_service_accounts import bearer, register, token_for

    registered = register(client, "crm", name="SmartPlan CRM")
    account = registered["service_account_user_id"]
    root = world["root"]
    assert client.put(f"/api/v1/users/{account}/contexts/{root}").status_code == 204
    rights = {"access": True, "invitations.manage": True, "API IP Allow": "127.0.0.0/8"}
    group = client.post(
        f"/api/v1/contexts/{root}/groups", json={"name": "CRM", "rights": {"ostiary": rights}}
    ).json()
    assert client.put(f"/api/v1/contexts/{root}/groups/{group['id']}/members/{account}")
    token = token_for(client, "crm", registered["client_secret"])
    sent = client.post(
        URL,
        json={"context_id": world["other"], "email": "lead@prospect.example", "lead": True},
        headers=bearer(token),
        auth=None,
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["inviter"] == "SmartPlan CRM" and sent.json()["lead"] is True
    [mail] = outbox(runtime)
    assert mail.subject == "SmartPlan CRM invites you to Other Ltd"
