from __future__ import annotations

from starlette.testclient import TestClient


def test_openapi_document_and_interactive_page(anonymous: TestClient) -> None:
    document = anonymous.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for path in ("/api/v1/contexts", "/api/v1/contexts/{context_id}/move", "/api/v1/users",
                 "/api/v1/users/{user_id}/contexts/{context_id}", "/api/v1/users/{user_id}/delete",
                 "/api/v1/domains", "/api/v1/audit-events"):
        assert path in paths, path
    assert "HTTPBasic" in document["components"]["securitySchemes"]
    page = anonymous.get("/api/v1/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()


def test_health_endpoints(anonymous: TestClient) -> None:
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    ready = anonymous.get("/readyz").json()
    assert ready["status"] == "ok" and ready["database"] in {"sqlite", "postgresql"}
