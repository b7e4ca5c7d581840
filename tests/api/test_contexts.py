from __future__ import annotations

from starlette.testclient import TestClient

from tests.helpers import assert_problem, make_context, root_id


def test_create_read_update_a_context(client: TestClient) -> None:
    root = root_id(client)
    acme = make_context(
        client, root, "account", "Acme Ltd", number="CRM-1", email_domains=["Acme.example"]
    )
    assert acme["depth"] == 1 and acme["parent_id"] == root
    assert acme["email_domains"] == ["acme.example"]

    read = client.get(f"/api/v1/contexts/{acme['id']}").json()
    assert read["name"] == "Acme Ltd" and read["number"] == "CRM-1"

    changed = client.patch(
        f"/api/v1/contexts/{acme['id']}", json={"name": "Acme AG", "status": "suspended"}
    )
    assert changed.status_code == 200
    assert changed.json()["name"] == "Acme AG" and changed.json()["status"] == "suspended"


def test_type_hierarchy_is_enforced(client: TestClient) -> None:
    root = root_id(client)
    tenant = make_context(client, root, "tenant", "Reseller")
    account = make_context(client, tenant["id"], "account", "Acme")
    sub = make_context(client, account["id"], "account", "Acme Sub")
    make_context(client, sub["id"], "customer", "Acme Customer")

    body = assert_problem(
        client.post("/api/v1/contexts", json={"type": "customer", "name": "X", "parent_id": root}),
        422,
        "rule-violation",
        "parent_id",
    )
    assert "cannot be placed under a root context" in body["detail"]
    assert_problem(
        client.post(
            "/api/v1/contexts", json={"type": "tenant", "name": "X", "parent_id": account["id"]}
        ),
        422,
        "rule-violation",
        "parent_id",
    )
    assert_problem(
        client.post("/api/v1/contexts", json={"type": "root", "name": "Second root"}),
        422,
        "rule-violation",
        "type",
    )
    assert_problem(
        client.post("/api/v1/contexts", json={"type": "account", "name": "Orphan"}),
        422,
        "rule-violation",
        "parent_id",
    )


def test_duplicate_number_is_a_conflict_naming_the_field(client: TestClient) -> None:
    root = root_id(client)
    make_context(client, root, "account", "One", number="CRM-7")
    assert_problem(
        client.post(
            "/api/v1/contexts",
            json={"type": "account", "name": "Two", "parent_id": root, "number": "CRM-7"},
        ),
        409,
        "already-exists",
        "number",
    )


def test_move_rewrites_the_subtree(client: TestClient) -> None:
    root = root_id(client)
    a = make_context(client, root, "account", "A")
    b = make_context(client, root, "account", "B")
    a1 = make_context(client, a["id"], "account", "A1")
    make_context(client, a1["id"], "customer", "A1 customer")

    moved = client.post(f"/api/v1/contexts/{a['id']}/move", json={"parent_id": b["id"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["parent_id"] == b["id"] and moved.json()["depth"] == 2

    subtree = client.get("/api/v1/contexts", params={"subtree_of": b["id"]}).json()["items"]
    assert [c["name"] for c in subtree] == ["B", "A", "A1", "A1 customer"]
    assert [c["depth"] for c in subtree] == [1, 2, 3, 4]
    assert (
        client.get("/api/v1/contexts", params={"subtree_of": a["id"]}).json()["items"][-1]["depth"]
        == 4
    )


def test_cannot_move_into_own_subtree(client: TestClient) -> None:
    root = root_id(client)
    a = make_context(client, root, "account", "A")
    a1 = make_context(client, a["id"], "account", "A1")
    assert_problem(
        client.post(f"/api/v1/contexts/{a['id']}/move", json={"parent_id": a1["id"]}),
        422,
        "rule-violation",
        "parent_id",
    )
    assert client.get(f"/api/v1/contexts/{a['id']}").json()["parent_id"] == root


def test_search_by_name_prefix_and_number(client: TestClient) -> None:
    root = root_id(client)
    make_context(client, root, "account", "Zurich Energy", number="100")
    make_context(client, root, "account", "Zug Power", number="200")
    make_context(client, root, "account", "Basel Gas", number="300")
    names = [c["name"] for c in client.get("/api/v1/contexts", params={"q": "zu"}).json()["items"]]
    assert sorted(names) == ["Zug Power", "Zurich Energy"]
    assert [
        c["name"] for c in client.get("/api/v1/contexts", params={"q": "300"}).json()["items"]
    ] == ["Basel Gas"]
    assert [
        c["name"] for c in client.get("/api/v1/contexts", params={"number": "200"}).json()["items"]
    ] == ["Zug Power"]


def test_pagination_visits_every_context_once(client: TestClient) -> None:
    root = root_id(client)
    for i in range(7):
        make_context(client, root, "account", f"Account {i}")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/contexts", params=params).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 8


def test_unknown_context_is_404_problem(client: TestClient) -> None:
    assert_problem(
        client.get("/api/v1/contexts/00000000-0000-7000-8000-000000000000"), 404, "not-found"
    )
    assert_problem(client.get("/api/v1/contexts/not-a-uuid"), 422, "invalid-input", "context_id")
    assert_problem(
        client.get("/api/v1/contexts", params={"cursor": "garbage!"}),
        400,
        "invalid-cursor",
        "cursor",
    )
