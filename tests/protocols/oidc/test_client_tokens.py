"""A client's own tokens (client credentials) and the client directory the endpoints use."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from starlette.testclient import TestClient

from ostiary.clients.models import Client
from ostiary.protocols.oidc.models import Grant
from ostiary.protocols.oidc.registry import ClientDirectory
from ostiary.runtime import Runtime
from tests.access.test_admin import counted
from tests.db import test_changes
from tests.db.test_changes import eventually, following

# A second worker process.
other = test_changes.other

SCOPE = {"grant_type": "client_credentials", "scope": "admin"}


def register(client: TestClient, client_id: str) -> str:
    body = {
        "client_id": client_id,
        "name": client_id,
        "module": "ostiary",
        "grant_types": ["client_credentials"],
        "scopes": ["admin"],
    }
    response = client.post("/api/v1/clients", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["client_secret"])


def introspect(api: TestClient, token: str, auth: tuple[str, str]) -> dict[str, Any]:
    answer = api.post("/oauth2/introspect", data={"token": token}, auth=auth)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def grants(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(Grant)) or 0


def test_a_client_token_writes_nothing_and_stands_on_the_client(
    client: TestClient, runtime: Runtime
) -> None:
    auth = ("nightly", register(client, "nightly"))
    before = grants(runtime)
    issued = client.post("/oauth2/token", data=SCOPE, auth=auth)
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    assert grants(runtime) == before
    seen = introspect(client, token, auth)
    assert seen["active"] is True and seen["sub"] == seen["client_id"] == "nightly"
    assert seen["aud"] == "urn:ostiary:module:ostiary" and seen["scope"] == "admin"
    assert "gid" not in seen

    assert client.patch("/api/v1/clients/nightly", json={"enabled": False}).status_code == 200
    bystander = ("other", register(client, "other"))
    assert introspect(client, token, bystander) == {"active": False}
    assert client.patch("/api/v1/clients/nightly", json={"enabled": True}).status_code == 200
    assert introspect(client, token, bystander)["active"] is True

    assert client.post("/oauth2/revoke", data={"token": token}, auth=auth).status_code == 200
    assert introspect(client, token, auth) == {"active": False}


def test_a_replaced_secret_stops_at_once(client: TestClient) -> None:
    old = register(client, "rotating")
    assert client.post("/oauth2/token", data=SCOPE, auth=("rotating", old)).status_code == 200
    new = client.post("/api/v1/clients/rotating/secret").json()["client_secret"]
    refused = client.post("/oauth2/token", data=SCOPE, auth=("rotating", old))
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert client.post("/oauth2/token", data=SCOPE, auth=("rotating", new)).status_code == 200


def test_the_directory_follows_every_change_of_the_row(
    client: TestClient, runtime: Runtime
) -> None:
    register(client, "watched")
    directory = ClientDirectory()
    with runtime.sessions() as session:
        first = directory.find(session, "watched")
        assert first is not None and first.enabled
        assert first not in session  # detached: shared, never flushed by a request
    with runtime.sessions() as session:
        assert directory.find(session, "watched") is first  # unchanged row: the same object
    # A hand edit in another connection, which leaves updated_at alone.
    with runtime.engine.begin() as connection:
        connection.execute(text("UPDATE clients SET enabled = false WHERE client_id = 'watched'"))
    with runtime.sessions() as session:
        second = directory.find(session, "watched")
        assert second is not None and second is not first and not second.enabled
        assert directory.find(session, None) is None
        assert directory.find(session, "nobody") is None
        stored = session.scalars(select(Client).where(Client.client_id == "watched")).one()
        for column in Client.__table__.columns:
            assert getattr(second, column.key) == getattr(stored, column.key), column.key
    assert client.delete("/api/v1/clients/watched").status_code == 204
    with runtime.sessions() as session:
        assert directory.find(session, "watched") is None


def test_warm_tokens_and_introspections_read_nothing_and_follow_another_worker(
    client: TestClient, runtime: Runtime, other: TestClient
) -> None:
    """With the change feed vouching for the client, its service account, the signing keys
    and the revocation list, issuing and introspecting a client's token reads no statement;
    a change made by another worker process is seen all the same."""
    auth = ("fleet", register(client, "fleet"))
    following(runtime)

    def issue() -> str:
        issued = client.post("/oauth2/token", data=SCOPE, auth=auth)
        assert issued.status_code == 200, issued.text
        return str(issued.json()["access_token"])

    def reads_nothing() -> bool:
        with counted(runtime) as statements:
            token = issue()
            assert introspect(client, token, auth)["active"] is True
        return not statements

    assert eventually(reads_nothing), "warm token requests still read the database"
    token = issue()
    introspect(client, token, auth)

    # Another worker revokes the token, then disables the client.
    assert other.post("/oauth2/revoke", data={"token": token}, auth=auth).status_code == 200
    assert eventually(lambda: introspect(client, token, auth) == {"active": False})
    second = issue()
    assert introspect(client, second, auth)["active"] is True
    assert other.patch("/api/v1/clients/fleet", json={"enabled": False}).status_code == 200
    assert eventually(
        lambda: (
            client.post("/oauth2/token", data=SCOPE, auth=auth).status_code == 400
            or client.post("/oauth2/token", data=SCOPE, auth=auth).status_code == 401
        )
    )
