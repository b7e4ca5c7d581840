"""Small builders used by the API tests."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

PROBLEM = "application/problem+json"


def root_id(client: TestClient) -> str:
    items = client.get("/api/v1/contexts", params={"type": "root"}).json()["items"]
    return str(items[0]["id"])


def make_context(
    client: TestClient, parent: str, type_: str, name: str, **extra: Any
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/contexts", json={"type": type_, "name": name, "parent_id": parent, **extra}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def make_user(client: TestClient, username: str, **extra: Any) -> dict[str, Any]:
    body = {
        "username": username,
        "domain": "ENTERPRISE",
        "email": f"{username}@example.com",
        **extra,
    }
    response = client.post("/api/v1/users", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_problem(
    response: Any, status: int, kind: str, field: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = dict(response.json())
    assert body["type"] == f"urn:ostiary:problem:{kind}"
    assert body["status"] == status
    if field is not None:
        assert body["field"] == field
    return body
