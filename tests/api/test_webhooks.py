"""``/api/v1/webhooks``: subscriptions, secrets shown once, deliveries, re-sending, pings, reach."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from ostiary.webhooks.models import WebhookSubscription
from tests.api.test_authorization import api_user, grant
from tests.helpers import assert_problem, make_context, make_user, root_id
from tests.webhooks.conftest import deliver, subscribe
from tests.webhooks.receiver import Receiver, receiver

URL = "/api/v1/webhooks"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"webhooks_worker": False, "webhooks_allow_loopback": True}


@pytest.fixture
def hook() -> Any:
    with receiver() as state:
        yield state


def test_a_subscription_is_created_read_changed_and_deleted(
    client: TestClient, hook: Receiver
) -> None:
    root = root_id(client)
    created = client.post(
        URL,
        json={
            "context_id": root,
            "url": hook.url,
            "events": ["user.created", "user.deleted"],
            "description": "CRM",
        },
    )
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["events"] == ["user.created", "user.deleted"] and body["enabled"] is True
    read = client.get(f"{URL}/{body['id']}").json()
    assert "secret" not in read and read["url"] == hook.url
    assert [s["id"] for s in client.get(URL).json()["items"]] == [body["id"]]

    changed = client.patch(f"{URL}/{body['id']}", json={"enabled": False, "events": []})
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert changed.json()["events"] == []
    assert "secret" not in changed.json()
    assert client.delete(f"{URL}/{body['id']}").status_code == 204
    assert_problem(client.get(f"{URL}/{body['id']}"), 404, "not-found")
    actions = [
        e["action"]
        for e in client.get("/api/v1/audit-events", params={"target": body["id"]}).json()["items"]
    ]
    assert actions == ["webhook.deleted", "webhook.updated", "webhook.created"]


def test_the_secret_is_never_shown_again_nor_kept_in_clear(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    sub = subscribe(client, root_id(client), hook.url)
    rotated = client.post(f"{URL}/{sub['id']}/secret")
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    new = rotated.json()["secret"]
    assert new != sub["secret"] and rotated.json()["previous_secret_until"] is not None
    secret_parts = [s.removeprefix("whsec_") for s in (sub["secret"], new)]
    shown = json.dumps(
        [
            client.get(URL).json(),
            client.get(f"{URL}/{sub['id']}").json(),
            client.get("/api/v1/audit-events", params={"limit": 500}).json(),
        ]
    )
    for part in secret_parts:
        assert part not in shown
    with runtime.sessions() as session:
        row = session.get(WebhookSubscription, uuid.UUID(sub["id"]))
        assert row is not None
        assert all(part not in row.secret + (row.previous_secret or "") for part in secret_parts)
        assert row.secret.startswith("v1.")


def test_after_a_rotation_both_secrets_verify_for_a_while(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    sub = subscribe(client, root_id(client), hook.url)
    new = client.post(f"{URL}/{sub['id']}/secret").json()["secret"]
    make_user(client, "rotated")
    deliver(runtime)
    (got,) = hook.received
    got.verified(sub["secret"])
    got.verified(new)
    assert len(got.headers["webhook-signature"].split(" ")) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "gopher://example.com/"}, "url"),
        ({"url": "http://example.com/hook"}, "url"),
        ({"url": "https://10.1.2.3/hook"}, "url"),
        ({"url": "https://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": "https://[fe80::1]/hook"}, "url"),
        ({"url": "https://user:pass@example.com/hook"}, "url"),
        ({"url": "https://0.0.0.0/hook"}, "url"),
        ({"events": ["user.created", "user.exploded"]}, "events[1]"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    root = root_id(client)
    request = {"context_id": root, "url": "https://93.184.216.34/hook", **body}
    assert_problem(client.post(URL, json=request), 422, "rule-violation", field)
    assert client.get(URL).json()["items"] == []


def test_an_unknown_context_or_field_is_refused(client: TestClient, hook: Receiver) -> None:
    missing = "01900000-0000-7000-8000-000000000000"
    assert_problem(
        client.post(URL, json={"context_id": missing, "url": hook.url}),
        404,
        "not-found",
        "context_id",
    )
    response = client.post(URL, json={"context_id": root_id(client), "url": hook.url, "x": 1})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_change_to_a_private_address_is_refused_and_changes_nothing(
    client: TestClient, hook: Receiver
) -> None:
    sub = subscribe(client, root_id(client), hook.url)
    assert_problem(
        client.patch(f"{URL}/{sub['id']}", json={"url": "https://192.168.1.10/"}),
        422,
        "rule-violation",
        "url",
    )
    assert client.get(f"{URL}/{sub['id']}").json()["url"] == hook.url


def test_deliveries_are_listed_page_by_page_and_can_be_sent_again(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    sub = subscribe(client, root_id(client), hook.url)
    for i in range(3):
        make_user(client, f"listed{i}")
    deliver(runtime)
    url = f"{URL}/{sub['id']}/deliveries"
    first = client.get(url, params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    oldest = rest["items"][0]
    assert oldest["state"] == "delivered" and oldest["last_status"] == 200
    assert oldest["event_type"] == "user.created" and oldest["next_attempt_at"] is None
    assert [d["state"] for d in client.get(url, params={"state": "pending"}).json()["items"]] == []
    assert_problem(client.get(url, params={"cursor": "nonsense"}), 400, "invalid-cursor", "cursor")

    again = client.post(f"{url}/{oldest['id']}/resend")
    assert again.status_code == 202 and again.json()["state"] == "pending"
    deliver(runtime)
    assert [r.id for r in hook.received].count(oldest["id"]) == 2
    assert hook.received[-1].body == next(r.body for r in hook.received if r.id == oldest["id"])
    assert client.get(f"{url}/{oldest['id']}").json()["attempts"] == 2
    assert_problem(
        client.post(f"{url}/01900000-0000-7000-8000-000000000000/resend"),
        404,
        "not-found",
        "delivery_id",
    )


def test_a_ping_tries_the_receiver_out(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    sub = subscribe(client, root_id(client), hook.url, events=["user.deleted"])
    ping = client.post(f"{URL}/{sub['id']}/ping")
    assert ping.status_code == 202 and ping.json()["event_type"] == "webhook.ping"
    deliver(runtime)
    (got,) = hook.received
    assert got.verified(sub["secret"])["data"] == {"subscription_id": sub["id"]}
    assert got.id == ping.json()["id"]


def test_a_disabled_subscription_receives_nothing(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    sub = subscribe(client, root_id(client), hook.url, enabled=False)
    make_user(client, "unheard")
    deliver(runtime)
    assert hook.received == []
    assert client.get(f"{URL}/{sub['id']}/deliveries").json()["items"] == []


def test_a_contact_person_reaches_only_their_accounts_subscriptions(
    client: TestClient, anonymous: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", key="acme")
    other = make_context(client, root, "account", "Other", key="other")
    api_user(client, "contact", [acme["id"]], domain="ENTERPRISE")
    grant(
        runtime,
        "contact",
        "acme",
        {"access": True, "webhooks.manage": True, "API IP Allow": "127.0.0.0/8"},
    )
    anonymous.auth = ("contact", "pw of tcatnoc 123")
    theirs = anonymous.post(URL, json={"context_id": acme["id"], "url": hook.url})
    assert theirs.status_code == 201, theirs.text
    foreign = subscribe(client, other["id"], hook.url + "/other")
    everything = subscribe(client, root, hook.url + "/root")

    assert [s["id"] for s in anonymous.get(URL).json()["items"]] == [theirs.json()["id"]]
    for sub in (foreign, everything):
        assert_problem(anonymous.get(f"{URL}/{sub['id']}"), 404, "not-found")
        assert_problem(anonymous.post(f"{URL}/{sub['id']}/secret"), 404, "not-found")
        assert_problem(anonymous.get(f"{URL}/{sub['id']}/deliveries"), 404, "not-found")
        assert_problem(anonymous.delete(f"{URL}/{sub['id']}"), 404, "not-found")
    assert_problem(
        anonymous.post(URL, json={"context_id": other["id"], "url": hook.url}), 404, "not-found"
    )
    assert_problem(
        anonymous.post(URL, json={"context_id": root, "url": hook.url}), 404, "not-found"
    )
    assert len(client.get(URL).json()["items"]) == 3
    refused = client.get("/api/v1/audit-events", params={"action": "access.out_of_reach"})
    assert len(refused.json()["items"]) >= 6


def test_without_the_right_nothing_is_reached(
    client: TestClient, anonymous: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", key="acme")
    api_user(client, "reader", [acme["id"]], domain="ENTERPRISE")
    grant(
        runtime,
        "reader",
        "acme",
        {"access": True, "users.read": True, "API IP Allow": "127.0.0.0/8"},
    )
    anonymous.auth = ("reader", "pw of redaer 123")
    assert anonymous.get(URL).status_code == 403
    assert anonymous.post(URL, json={"context_id": acme["id"], "url": hook.url}).status_code == 403
