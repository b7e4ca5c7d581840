"""Contracts over the admin API: the CRM's upsert, validation naming the field, reach."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from tests.api.test_authorization import api_user, grant
from tests.helpers import assert_problem, make_context, root_id

TODAY = datetime.now(UTC).date()


def days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


def contract(account: str, **extra: Any) -> dict[str, Any]:
    body = {
        "account": account,
        "product": "Energy portal",
        "status": "active",
        "starts_on": days(-30),
    }
    body.update(extra)
    return body


def events(client: TestClient, action: str) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/audit-events", params={"action": action}).json()["items"])


def test_put_creates_then_replaces_and_a_retry_changes_nothing(client: TestClient) -> None:
    acme = make_context(client, root_id(client), "account", "Acme", number="CRM-1")
    first = client.put("/api/v1/contracts/C-100", json=contract("CRM-1", ends_on=days(30)))
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["account_id"] == acme["id"] and body["account_number"] == "CRM-1"
    assert body["running"] is True and body["status"] == "active"

    again = client.put("/api/v1/contracts/C-100", json=contract("CRM-1", ends_on=days(30)))
    assert again.status_code == 200 and again.json()["updated_at"] == body["updated_at"]
    assert len(events(client, "contract.created")) == 1
    assert events(client, "contract.updated") == []

    ended = client.put("/api/v1/contracts/C-100", json=contract(acme["id"], status="ended"))
    assert ended.status_code == 200
    assert ended.json()["running"] is False and ended.json()["ends_on"] is None
    [updated] = events(client, "contract.updated")
    assert updated["target_type"] == "contract" and updated["context_id"] == acme["id"]
    assert updated["changes"]["status"] == ["active", "ended"]


def test_post_get_list_patch_delete(client: TestClient) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", number="CRM-1")
    make_context(client, root, "account", "Globex", number="CRM-2")
    made = client.post("/api/v1/contracts", json={"external_id": "C-1", **contract("CRM-1")})
    assert made.status_code == 201, made.text
    client.post("/api/v1/contracts", json={"external_id": "C-2", **contract("CRM-2")})
    client.post(
        "/api/v1/contracts",
        json={"external_id": "C-3", **contract("CRM-1", status="pending", starts_on=days(10))},
    )
    assert_problem(
        client.post("/api/v1/contracts", json={"external_id": "C-1", **contract("CRM-2")}),
        409,
        "already-exists",
        "external_id",
    )

    mine = client.get("/api/v1/contracts", params={"account": "CRM-1"}).json()["items"]
    assert [c["external_id"] for c in mine] == ["C-1", "C-3"]
    pending = client.get("/api/v1/contracts", params={"status": "pending"}).json()["items"]
    assert [c["external_id"] for c in pending] == ["C-3"]
    page = client.get("/api/v1/contracts", params={"limit": 2}).json()
    rest = client.get("/api/v1/contracts", params={"cursor": page["next_cursor"]}).json()
    assert [c["external_id"] for c in page["items"] + rest["items"]] == ["C-1", "C-2", "C-3"]

    changed = client.patch("/api/v1/contracts/C-1", json={"product": "Gas", "ends_on": days(5)})
    assert changed.status_code == 200
    assert changed.json()["product"] == "Gas" and changed.json()["ends_on"] == days(5)
    assert client.get("/api/v1/contracts/C-1").json()["product"] == "Gas"

    assert client.delete("/api/v1/contracts/C-1").status_code == 204
    assert_problem(client.get("/api/v1/contracts/C-1"), 404, "not-found", "external_id")
    [deleted] = events(client, "contract.deleted")
    assert deleted["context_id"] == acme["id"] and deleted["target_type"] == "contract"


def test_invalid_contracts_name_the_field_and_change_nothing(client: TestClient) -> None:
    root = root_id(client)
    make_context(client, root, "account", "Acme", number="CRM-1")
    tenant = make_context(client, root, "tenant", "Reseller", number="T-1")
    cases = [
        (contract("CRM-1", ends_on=days(-31)), 422, "invalid-input", "ends_on"),
        (contract("CRM-1", status="running"), 422, "invalid-input", "status"),
        (contract("CRM-1", starts_on="yesterday"), 422, "invalid-input", "starts_on"),
        (contract("CRM-1", product=""), 422, "invalid-input", "product"),
        (contract("NO-SUCH"), 422, "rule-violation", "account"),
        (contract(tenant["id"]), 422, "rule-violation", "account"),
        (contract("CRM-1", colour="red"), 422, "invalid-input", "colour"),
    ]
    for body, status, kind, field in cases:
        assert_problem(client.put("/api/v1/contracts/C-9", json=body), status, kind, field)
    assert_problem(
        client.put("/api/v1/contracts/bad id!", json=contract("CRM-1")),
        422,
        "invalid-input",
        "external_id",
    )
    assert client.get("/api/v1/contracts").json()["items"] == []

    client.put("/api/v1/contracts/C-9", json=contract("CRM-1", ends_on=days(10)))
    assert_problem(
        client.patch("/api/v1/contracts/C-9", json={"ends_on": days(-40)}),
        422,
        "rule-violation",
        "ends_on",
    )
    assert_problem(
        client.patch("/api/v1/contracts/C-9", json={"starts_on": days(11)}),
        422,
        "rule-violation",
        "starts_on",
    )
    assert_problem(
        client.patch("/api/v1/contracts/C-9", json={"status": None}),
        422,
        "rule-violation",
        "status",
    )
    assert client.get("/api/v1/contracts/C-9").json()["ends_on"] == days(10)
    assert len(events(client, "contract.updated")) == 0


def test_a_contact_person_reaches_only_their_own_accounts_contracts(
    client: TestClient, runtime: Runtime
) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme", key="acme", number="CRM-1")
    make_context(client, root, "account", "Globex", key="globex", number="CRM-2")
    client.put("/api/v1/contracts/ACME-1", json=contract("CRM-1"))
    client.put("/api/v1/contracts/GLOBEX-1", json=contract("CRM-2"))
    api_user(client, "contact", [acme["id"]], domain="ENTERPRISE")
    grant(
        runtime,
        "contact",
        "acme",
        {"access": True, "contexts.read": True, "API IP Allow": "0.0.0.0/0"},
    )
    contact = TestClient(client.app, client=("127.0.0.1", 50001))
    contact.auth = ("contact", "pw of tcatnoc 123")

    listed = contact.get("/api/v1/contracts").json()["items"]
    assert [c["external_id"] for c in listed] == ["ACME-1"]
    assert contact.get("/api/v1/contracts/ACME-1").status_code == 200
    assert_problem(contact.get("/api/v1/contracts/GLOBEX-1"), 404, "not-found")
    assert_problem(
        contact.get("/api/v1/contracts", params={"account": "CRM-2"}),
        422,
        "rule-violation",
        "account",
    )
    # Reading is not writing.
    assert_problem(
        contact.put("/api/v1/contracts/ACME-1", json=contract("CRM-1")), 403, "forbidden"
    )

    grant(
        runtime,
        "contact",
        "acme",
        {
            "access": True,
            "contexts.read": True,
            "contracts.manage": True,
            "API IP Allow": "0.0.0.0/0",
        },
    )
    assert contact.patch("/api/v1/contracts/ACME-1", json={"product": "Gas"}).status_code == 200
    for response in (
        contact.patch("/api/v1/contracts/GLOBEX-1", json={"product": "Gas"}),
        contact.delete("/api/v1/contracts/GLOBEX-1"),
        contact.put("/api/v1/contracts/GLOBEX-1", json=contract("CRM-1")),
    ):
        assert_problem(response, 404, "not-found")
    assert_problem(
        contact.put("/api/v1/contracts/ACME-2", json=contract("CRM-2")),
        422,
        "rule-violation",
        "account",
    )
    assert_problem(
        contact.patch("/api/v1/contracts/ACME-1", json={"account": "CRM-2"}),
        422,
        "rule-violation",
        "account",
    )
    globex = client.get("/api/v1/contracts/GLOBEX-1").json()
    assert globex["product"] == "Energy portal" and globex["account_number"] == "CRM-2"
    refused = client.get("/api/v1/audit-events", params={"action": "access.out_of_reach"}).json()[
        "items"
    ]
    assert any(e["target_type"] == "contract" for e in refused)


def test_a_contract_running_window(client: TestClient) -> None:
    make_context(client, root_id(client), "account", "Acme", number="CRM-1")
    cases = {
        "A": (contract("CRM-1", starts_on=TODAY.isoformat(), ends_on=TODAY.isoformat()), True),
        "B": (contract("CRM-1", starts_on=days(1)), False),
        "C": (contract("CRM-1", ends_on=days(-1)), False),
        "D": (contract("CRM-1", status="pending"), False),
        "E": (contract("CRM-1"), True),
    }
    for key, (body, running) in cases.items():
        assert client.put(f"/api/v1/contracts/{key}", json=body).json()["running"] is running


def test_dates_are_plain_days(client: TestClient) -> None:
    make_context(client, root_id(client), "account", "Acme", number="CRM-1")
    body = client.put(
        "/api/v1/contracts/D-1",
        json=contract("CRM-1", starts_on="2026-01-01", ends_on="2026-12-31"),
    ).json()
    assert date.fromisoformat(body["starts_on"]) == date(2026, 1, 1)
    assert body["ends_on"] == "2026-12-31"
