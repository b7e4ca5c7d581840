from starlette.testclient import TestClient


def test_root_context_exists_after_first_start(client: TestClient) -> None:
    response = client.get("/api/v1/contexts")
    assert response.status_code == 200
    assert [c["key"] for c in response.json()["items"]] == ["root"]
