"""Retries that create nothing twice: by a context's external number and by Idempotency-Key."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from starlette.testclient import TestClient

from ostiary.api.idempotency import Claim, IdempotencyStore, fingerprint
from ostiary.contexts.models import Context
from ostiary.db.types import utcnow
from ostiary.runtime import Runtime
from tests.api.test_authorization import api_user, grant
from tests.helpers import assert_problem, root_id

KEY = {"Idempotency-Key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"'}


def contexts_named(runtime: Runtime, name: str) -> int:
    with runtime.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(Context).where(Context.name == name))
            or 0
        )


def at_once(count: int, call: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = []

    def one() -> None:
        barrier.wait()
        results.append(call())

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_a_retry_with_the_same_number_gets_the_context_back(
    client: TestClient, runtime: Runtime
) -> None:
    body = {
        "type": "account",
        "name": "Acme",
        "parent_id": root_id(client),
        "number": "CRM-1",
        "email_domains": ["acme.example"],
    }
    first = client.post("/api/v1/contexts", json=body)
    assert first.status_code == 201
    retry = client.post("/api/v1/contexts", json={**body, "email_domains": ["ACME.example"]})
    assert retry.status_code == 200 and retry.json() == first.json()
    assert contexts_named(runtime, "Acme") == 1

    other = assert_problem(
        client.post("/api/v1/contexts", json={**body, "name": "Acme AG"}),
        409,
        "already-exists",
        "number",
    )
    assert "differs" in other["detail"]
    assert_problem(
        client.post("/api/v1/contexts", json={**body, "type": "tenant"}),
        409,
        "already-exists",
        "number",
    )
    assert client.get(f"/api/v1/contexts/{first.json()['id']}").json()["name"] == "Acme"
    created = client.get("/api/v1/audit-events", params={"action": "context.created"}).json()
    assert [e["target_id"] for e in created["items"]].count(first.json()["id"]) == 1


def test_concurrent_creates_with_one_number_make_one_context(
    client: TestClient, runtime: Runtime
) -> None:
    body = {"type": "account", "name": "Racing", "parent_id": root_id(client), "number": "CRM-R"}
    answers = at_once(4, lambda: client.post("/api/v1/contexts", json=body))
    assert sorted(a.status_code for a in answers).count(201) == 1
    assert {a.status_code for a in answers} <= {200, 201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert contexts_named(runtime, "Racing") == 1


def test_a_number_outside_the_callers_reach_says_nothing_of_its_context(
    client: TestClient, runtime: Runtime
) -> None:
    root = root_id(client)
    mine = client.post(
        "/api/v1/contexts",
        json={"type": "account", "name": "Mine", "key": "mine", "parent_id": root},
    ).json()
    client.post(
        "/api/v1/contexts",
        json={"type": "account", "name": "Theirs", "parent_id": root, "number": "SECRET-1"},
    )
    api_user(client, "contact", [mine["id"]], domain="ENTERPRISE")
    grant(
        runtime,
        "contact",
        "mine",
        {
            "access": True,
            "contexts.read": True,
            "contexts.manage": True,
            "API IP Allow": "0.0.0.0/0",
        },
    )
    contact = TestClient(client.app, client=("127.0.0.1", 50001))
    contact.auth = ("contact", "pw of tcatnoc 123")
    answer = assert_problem(
        contact.post(
            "/api/v1/contexts",
            json={
                "type": "account",
                "name": "Theirs",
                "parent_id": mine["id"],
                "number": "SECRET-1",
            },
        ),
        409,
        "already-exists",
        "number",
    )
    assert "Theirs" not in answer["detail"] and "id" not in answer


def test_an_idempotency_key_replays_the_first_answer(client: TestClient, runtime: Runtime) -> None:
    body = {"type": "account", "name": "Keyed", "parent_id": root_id(client)}
    first = client.post("/api/v1/contexts", json=body, headers=KEY)
    assert first.status_code == 201
    again = client.post("/api/v1/contexts", json=body, headers=KEY)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == "application/json"
    assert contexts_named(runtime, "Keyed") == 1

    reused = assert_problem(
        client.post("/api/v1/contexts", json={**body, "name": "Other"}, headers=KEY),
        422,
        "idempotency-key-reused",
        "Idempotency-Key",
    )
    assert "different request" in reused["detail"]
    assert contexts_named(runtime, "Other") == 0
    # Another path is another request, too.
    assert_problem(
        client.post(f"/api/v1/contexts/{first.json()['id']}/suspend", headers=KEY),
        422,
        "idempotency-key-reused",
    )
    assert client.get(f"/api/v1/contexts/{first.json()['id']}").json()["status"] == "active"


def test_keys_belong_to_their_caller(client: TestClient, runtime: Runtime) -> None:
    root = root_id(client)
    api_user(client, "crm", [root])
    grant(
        runtime,
        "crm",
        "root",
        {
            "access": True,
            "contexts.read": True,
            "contexts.manage": True,
            "API IP Allow": "0.0.0.0/0",
        },
    )
    crm = TestClient(client.app, client=("127.0.0.1", 50002))
    crm.auth = ("crm", "pw of mrc 123")
    body = {"type": "account", "name": "Mine", "parent_id": root}
    assert client.post("/api/v1/contexts", json=body, headers=KEY).status_code == 201
    theirs = crm.post("/api/v1/contexts", json={**body, "name": "Theirs"}, headers=KEY)
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert contexts_named(runtime, "Theirs") == 1


def test_concurrent_requests_with_one_key_do_the_work_once(
    client: TestClient, runtime: Runtime
) -> None:
    body = {"type": "account", "name": "Once", "parent_id": root_id(client)}
    answers = at_once(4, lambda: client.post("/api/v1/contexts", json=body, headers=KEY))
    done = [a for a in answers if a.status_code == 201]
    busy = [a for a in answers if a.status_code == 409]
    assert len(done) + len(busy) == 4 and done
    assert len({a.json()["id"] for a in done}) == 1
    for answer in busy:
        assert_problem(answer, 409, "idempotency-key-in-use", "Idempotency-Key")
    assert contexts_named(runtime, "Once") == 1


def test_a_repeat_while_the_first_is_running_is_a_conflict(
    client: TestClient, runtime: Runtime
) -> None:
    body = {"type": "account", "name": "Slow", "parent_id": root_id(client)}
    admin = client.get("/api/v1/users", params={"q": "admin"}).json()["items"][0]["id"]
    raw = b'{"type": "account", "name": "Slow", "parent_id": "%s"}' % root_id(client).encode()
    store = IdempotencyStore(runtime.sessions)
    claim = Claim(uuid.UUID(admin), "running-key")
    assert store.claim(claim, fingerprint("POST", "/api/v1/contexts", "", raw)) is None
    busy = client.post("/api/v1/contexts", json=body, headers={"Idempotency-Key": "running-key"})
    assert_problem(busy, 409, "idempotency-key-in-use", "Idempotency-Key")
    assert contexts_named(runtime, "Slow") == 0
    # A claim whose request died with its process is taken over after a while.
    later = utcnow() + timedelta(minutes=11)
    assert store.claim(claim, fingerprint("POST", "/api/v1/contexts", "", raw), later) is None


def test_a_failed_request_frees_its_key_and_answers_last_a_day(
    client: TestClient, runtime: Runtime
) -> None:
    headers = {"Idempotency-Key": "retry-after-fix"}
    bad = client.post("/api/v1/contexts", json={"type": "account", "name": ""}, headers=headers)
    assert_problem(bad, 422, "invalid-input", "name")
    good = {"type": "account", "name": "Fixed", "parent_id": root_id(client)}
    assert client.post("/api/v1/contexts", json=good, headers=headers).status_code == 201

    admin = client.get("/api/v1/users", params={"q": "admin"}).json()["items"][0]["id"]
    store = IdempotencyStore(runtime.sessions)
    claim = Claim(uuid.UUID(admin), "retry-after-fix")
    other = fingerprint("POST", "/api/v1/contexts", "", b"{}")
    # Within a day the key is the first request's; after a day it is free again.
    assert_problem(
        client.post("/api/v1/contexts", json={**good, "name": "Y"}, headers=headers),
        422,
        "idempotency-key-reused",
    )
    assert store.claim(claim, other, utcnow() + timedelta(hours=25)) is None


def test_bad_keys_and_callers_without_credentials(
    client: TestClient, anonymous: TestClient
) -> None:
    body = {"type": "account", "name": "X", "parent_id": root_id(client)}
    for key in (b"", b"x" * 256, "caf\u00e9".encode(), b'"a"b"'):
        answer = client.post("/api/v1/contexts", json=body, headers={"Idempotency-Key": key})
        assert_problem(answer, 422, "invalid-input", "Idempotency-Key")
    assert_problem(
        anonymous.post("/api/v1/contexts", json=body, headers=KEY), 401, "unauthenticated"
    )


def test_contracts_take_a_key_too(client: TestClient) -> None:
    client.post(
        "/api/v1/contexts",
        json={"type": "account", "name": "Acme", "parent_id": root_id(client), "number": "CRM-1"},
    )
    body = {
        "external_id": "K-1",
        "account": "CRM-1",
        "product": "Portal",
        "status": "active",
        "starts_on": "2026-01-01",
    }
    first = client.post("/api/v1/contracts", json=body, headers=KEY)
    again = client.post("/api/v1/contracts", json=body, headers=KEY)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    without = client.post("/api/v1/contracts", json=body)
    assert_problem(without, 409, "already-exists", "external_id")
    document = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/contracts", "/api/v1/contexts"):
        parameters = document["paths"][path]["post"]["parameters"]
        assert {"name": "Idempotency-Key", "in": "header"}.items() <= parameters[0].items()
