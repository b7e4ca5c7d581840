from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.helpers import assert_problem, make_context, make_user, root_id


def test_create_and_read_a_user(client: TestClient) -> None:
    created = make_user(
        client,
        "Jeremy.Mills",
        email="Jeremy.Mills@CityGroup.example",
        phone="+44 20 7946 0958",
        first_name="Jeremy",
        last_name="Mills",
        language="en-GB",
    )
    assert created["username"] == "jeremy.mills"
    assert created["email"] == "Jeremy.Mills@citygroup.example"
    assert created["phone"] == "+442079460958"
    assert created["status"] == "draft" and created["has_password"] is False
    assert "password" not in created and "password_hash" not in created
    assert client.get(f"/api/v1/users/{created['id']}").json() == created


def test_invalid_fields_are_named(client: TestClient) -> None:
    body = assert_problem(
        client.post(
            "/api/v1/users",
            json={
                "username": "x y",
                "domain": "ENTERPRISE",
                "email": "nope",
                "phone": "12",
                "language": "english!",
            },
        ),
        422,
        "invalid-input",
    )
    assert {e["field"] for e in body["errors"]} == {"username", "email", "phone", "language"}
    assert_problem(
        client.post("/api/v1/users", json={"username": "a", "domain": "NOPE"}),
        404,
        "not-found",
        "domain",
    )
    assert_problem(
        client.post(
            "/api/v1/users", json={"username": "weak", "domain": "CSP", "password": "short"}
        ),
        422,
        "invalid-input",
        "password",
    )
    assert client.get("/api/v1/users", params={"username": "weak"}).json()["items"] == []


def test_username_and_email_are_unique_case_insensitively(client: TestClient) -> None:
    make_user(client, "scott", email="scott@example.com")
    assert_problem(
        client.post("/api/v1/users", json={"username": "SCOTT", "domain": "CSP"}),
        409,
        "already-exists",
        "username",
    )
    assert_problem(
        client.post(
            "/api/v1/users",
            json={"username": "scott2", "domain": "CSP", "email": "Scott@Example.com"},
        ),
        409,
        "already-exists",
        "email",
    )
    other = make_user(client, "other", email="other@example.com")
    assert_problem(
        client.patch(f"/api/v1/users/{other['id']}", json={"email": "SCOTT@example.com"}),
        409,
        "already-exists",
        "email",
    )
    assert client.get(f"/api/v1/users/{other['id']}").json()["email"] == "other@example.com"


def test_update_changes_only_given_fields_and_null_clears(client: TestClient) -> None:
    user = make_user(client, "ann", first_name="Ann", last_name="Lee", phone="+41446681800")
    changed = client.patch(
        f"/api/v1/users/{user['id']}", json={"last_name": "Smith", "phone": None}
    )
    assert changed.status_code == 200
    body = changed.json()
    assert (body["first_name"], body["last_name"], body["phone"]) == ("Ann", "Smith", None)
    assert_problem(
        client.patch(f"/api/v1/users/{user['id']}", json={"username": None}),
        422,
        "rule-violation",
        "username",
    )
    assert_problem(
        client.patch(f"/api/v1/users/{user['id']}", json={"nickname": "x"}),
        422,
        "invalid-input",
        "nickname",
    )


def test_search_filters_and_keyset_pagination(client: TestClient) -> None:
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme")
    for i in range(12):
        make_user(
            client,
            f"user{i:02d}",
            first_name="Max" if i % 2 else "Eva",
            last_name=f"Muster{i}",
            status="active" if i % 3 else "draft",
            context_ids=[acme["id"]] if i < 4 else [],
        )
    make_user(client, "outsider", email="boss@other.example", domain="CSP")

    def usernames(**params: object) -> list[str]:
        return [u["username"] for u in client.get("/api/v1/users", params=params).json()["items"]]

    assert usernames(username="user0") == [f"user0{i}" for i in range(10)]
    assert usernames(name="eva") == [f"user{i:02d}" for i in range(0, 12, 2)]
    assert usernames(name="muster1") == ["user01", "user10", "user11"]
    assert usernames(email="boss@") == ["outsider"]
    assert usernames(status="draft", username="user") == ["user00", "user03", "user06", "user09"]
    assert usernames(domain="CSP") == ["admin", "outsider"]
    assert usernames(context=acme["id"]) == ["user00", "user01", "user02", "user03"]
    assert usernames(q="BOSS") == ["outsider"]
    assert usernames(q="max", status="active") == ["user01", "user05", "user07", "user11"]

    pages, cursor = [], None
    while True:
        params: dict[str, object] = {"limit": 5, "username": "user"}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/users", params=params).json()
        pages.append([u["username"] for u in page["items"]])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sum(pages, []) == [f"user{i:02d}" for i in range(12)]
    assert [len(p) for p in pages] == [5, 5, 2]
    assert_problem(
        client.get("/api/v1/users", params={"domain": "NOPE"}), 422, "rule-violation", "domain"
    )
    assert_problem(client.get("/api/v1/users", params={"limit": 0}), 422, "invalid-input", "limit")


def test_text_search_lists_each_user_once_in_order_of_the_matching_word(client: TestClient) -> None:
    make_user(client, "max.zed", email="zed@example.com", first_name="Max", last_name="Maxwell")
    make_user(client, "anna", email="maxi@example.com", first_name="Anna", last_name="Berg")
    make_user(client, "bert", email="bert@example.com", first_name="Maximilian", last_name="Ott")
    make_user(client, "carl", email="carl@example.com", first_name="Carl", last_name="Zed")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {
            "q": "max",
            "limit": 1,
            **({"cursor": cursor} if cursor else {}),
        }
        page = client.get("/api/v1/users", params=params).json()
        seen += [u["username"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # "max" (first name of max.zed) < "max.zed" < "maxi@..." < "maximilian".
    assert seen == ["max.zed", "anna", "bert"]
    renamed = client.get("/api/v1/users", params={"username": "carl"}).json()["items"][0]
    client.patch(f"/api/v1/users/{renamed['id']}", json={"first_name": "Maxine"})
    assert [
        u["username"] for u in client.get("/api/v1/users", params={"name": "maxi"}).json()["items"]
    ] == ["bert", "carl"]


@pytest.mark.parametrize("members_to_sort", [1, 20_000])
def test_members_of_a_context_page_alike_whether_sorted_or_walked(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, members_to_sort: int
) -> None:
    # 1: every context counts as big, its members are found by walking usernames.
    monkeypatch.setattr("ostiary.users.search.MEMBERS_TO_SORT", members_to_sort)
    root = root_id(client)
    acme = make_context(client, root, "account", "Acme")
    other = make_context(client, root, "account", "Other")
    for i in range(9):
        make_user(
            client,
            f"m{8 - i}",
            status="active" if i % 2 else "draft",
            context_ids=[acme["id"] if i % 3 else other["id"]],
        )
    pages, cursor = [], None
    while True:
        params: dict[str, object] = {"limit": 2, "context": acme["id"]}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/users", params=params).json()
        pages.append([u["username"] for u in page["items"]])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == [["m0", "m1"], ["m3", "m4"], ["m6", "m7"]]
    active = client.get("/api/v1/users", params={"context": acme["id"], "status": "active"})
    assert [u["username"] for u in active.json()["items"]] == ["m1", "m3", "m7"]
