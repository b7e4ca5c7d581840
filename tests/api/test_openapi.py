from __future__ import annotations

from starlette.testclient import TestClient

from tests.apps import app_for


def test_openapi_document_and_interactive_page(anonymous: TestClient) -> None:
    document = anonymous.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/api/v1/contexts",
        "/api/v1/contexts/{context_id}/move",
        "/api/v1/users",
        "/api/v1/users/{user_id}/contexts/{context_id}",
        "/api/v1/users/{user_id}/delete",
        "/api/v1/domains",
        "/api/v1/audit-events",
    ):
        assert path in paths, path
    assert "HTTPBasic" in document["components"]["securitySchemes"]
    page = anonymous.get("/api/v1/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()


def test_health_endpoints(anonymous: TestClient) -> None:
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    ready = anonymous.get("/readyz").json()
    assert ready["status"] == "ok" and ready["database"] in {"sqlite", "postgresql"}


def test_readyz_says_when_the_database_does_not_answer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ostiary.runtime import Runtime
    from tests.conftest import make_settings

    runtime = Runtime.from_settings(
        make_settings(tmp_path, f"sqlite:///{tmp_path}/missing/dir/x.db")
    )
    with TestClient(app_for(runtime)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["content-type"].startswith("application/problem+json")
        assert ready.json()["type"] == "urn:ostiary:problem:not-ready"
    runtime.close()
