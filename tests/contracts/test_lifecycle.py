"""The account lifecycle that follows contracts: grace, suspension, reactivation, races."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.contexts.models import Context, ContextType
from ostiary.contexts.schemas import ContextCreate
from ostiary.contexts.services import ContextService
from ostiary.contracts import lifecycle
from ostiary.contracts.lifecycle import ContractLifecycle, ContractWorker, start_contract_worker
from ostiary.runtime import Runtime
from ostiary.settings import Settings
from tests.helpers import make_context, root_id
from tests.protocols.oidc.conftest import ACTOR
from tests.test_cli import run

TODAY = datetime.now(UTC).date()


def day(n: int) -> date:
    return TODAY + timedelta(days=n)


def account(client: TestClient, number: str) -> dict[str, Any]:
    return make_context(client, root_id(client), "account", f"Account {number}", number=number)


def put(client: TestClient, external_id: str, number: str, **fields: Any) -> dict[str, Any]:
    body = {
        "account": number,
        "product": "Portal",
        "status": "active",
        "starts_on": day(-100).isoformat(),
    }
    body.update({k: v.isoformat() if isinstance(v, date) else v for k, v in fields.items()})
    response = client.put(f"/api/v1/contracts/{external_id}", json=body)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def state(client: TestClient, context: dict[str, Any]) -> tuple[str, str | None]:
    body = client.get(f"/api/v1/contexts/{context['id']}").json()
    return body["status"], body["suspended_by"]


def events(client: TestClient, action: str) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/audit-events", params={"action": action}).json()["items"])


def check(runtime: Runtime, today: date, grace: int = 14) -> list[str]:
    return [str(c) for c in ContractLifecycle(runtime.sessions, grace).run(today)]


def test_the_grace_period_then_suspension_and_a_second_run_changes_nothing(
    client: TestClient, runtime: Runtime
) -> None:
    recent, old, open_ = account(client, "A-13"), account(client, "A-15"), account(client, "A-0")
    put(client, "C-13", "A-13", ends_on=day(-13))
    put(client, "C-15", "A-15", ends_on=day(-15))
    put(client, "C-0", "A-0")
    bare = account(client, "A-none")

    changes = check(runtime, TODAY)
    assert changes == [
        f"context.suspended Account A-15 (A-15): no running contract since {day(-15)}"
    ]
    assert state(client, old) == ("suspended", "contract")
    for untouched in (recent, open_, bare):
        assert state(client, untouched) == ("active", None)
    [event] = events(client, "context.suspended")
    assert event["target_type"] == "context" and event["target_id"] == old["id"]
    assert event["context_id"] == old["id"] and event["actor"] == "system"
    assert event["changes"]["reason"] == "contract" and event["changes"]["grace_days"] == 14

    assert check(runtime, TODAY) == []
    assert len(events(client, "context.suspended")) == 1
    # A day later the 13-day one is at 14: still within grace; at 15 it goes.
    assert check(runtime, day(1)) == []
    assert check(runtime, day(2)) != [] and state(client, recent) == ("suspended", "contract")


def test_no_grace_and_a_cancellation(client: TestClient, runtime: Runtime) -> None:
    ended, cancelled = account(client, "E"), account(client, "X")
    put(client, "E-1", "E", ends_on=day(-1))
    put(client, "X-1", "X")
    put(client, "X-1", "X", status="cancelled")
    assert check(runtime, TODAY, grace=0) == [
        f"context.suspended Account E (E): no running contract since {day(-1)}",
        f"context.suspended Account X (X): no running contract since {day(-1)}",
    ]
    assert state(client, ended)[0] == state(client, cancelled)[0] == "suspended"


def test_only_pending_contracts_do_not_suspend(client: TestClient, runtime: Runtime) -> None:
    waiting = account(client, "P")
    put(client, "P-1", "P", status="pending", starts_on=day(30))
    assert check(runtime, day(20), grace=0) == []
    assert state(client, waiting) == ("active", None)


def test_a_new_contract_reactivates_at_once(client: TestClient, runtime: Runtime) -> None:
    acme = account(client, "A")
    put(client, "OLD", "A", ends_on=day(-20))
    check(runtime, TODAY)
    assert state(client, acme) == ("suspended", "contract")

    put(client, "NEW", "A", starts_on=TODAY)
    assert state(client, acme) == ("active", None)
    [event] = events(client, "context.reactivated")
    assert event["target_id"] == acme["id"] and event["changes"]["contract"] == "NEW"
    assert event["actor"] == "admin"
    assert check(runtime, TODAY) == []


def test_a_pending_contract_reactivates_when_it_starts(
    client: TestClient, runtime: Runtime
) -> None:
    acme = account(client, "A")
    put(client, "OLD", "A", ends_on=day(-20))
    check(runtime, TODAY)
    put(client, "NEXT", "A", status="pending", starts_on=day(3))
    assert state(client, acme) == ("suspended", "contract")
    assert check(runtime, day(2)) == []

    assert check(runtime, day(3)) == [
        "contract.updated NEXT: started: now active",
        "context.reactivated Account A (A): a contract runs again",
    ]
    assert state(client, acme) == ("active", None)
    assert client.get("/api/v1/contracts/NEXT").json()["status"] == "active"
    started = events(client, "contract.updated")[0]
    assert started["changes"]["status"] == ["pending", "active"]
    assert check(runtime, day(3)) == []


def test_an_active_contract_that_starts_later_reactivates_when_it_starts(
    client: TestClient, runtime: Runtime
) -> None:
    acme = account(client, "A")
    put(client, "OLD", "A", ends_on=day(-20))
    check(runtime, TODAY)
    put(client, "NEXT", "A", starts_on=day(1))
    assert state(client, acme)[0] == "suspended"
    assert check(runtime, day(1)) == ["context.reactivated Account A (A): a contract runs again"]


def test_a_suspension_by_hand_is_not_lifted_by_a_contract(
    client: TestClient, runtime: Runtime
) -> None:
    by_hand, taken_over = account(client, "H"), account(client, "T")
    put(client, "H-1", "H")
    assert client.post(f"/api/v1/contexts/{by_hand['id']}/suspend").status_code == 200
    put(client, "H-2", "H", starts_on=TODAY)
    assert check(runtime, TODAY) == []
    assert state(client, by_hand) == ("suspended", "administrator")

    # An administrator's suspension replaces the contract's: a contract no longer lifts it.
    put(client, "T-1", "T", ends_on=day(-30))
    check(runtime, TODAY)
    assert client.post(f"/api/v1/contexts/{taken_over['id']}/suspend").status_code == 200
    put(client, "T-2", "T")
    assert check(runtime, TODAY) == []
    assert state(client, taken_over) == ("suspended", "administrator")

    assert client.post(f"/api/v1/contexts/{by_hand['id']}/reactivate").status_code == 200
    assert state(client, by_hand) == ("active", None)


def test_a_hand_reactivation_holds_against_contracts_that_ended_before(
    client: TestClient, runtime: Runtime
) -> None:
    acme = account(client, "A")
    put(client, "OLD", "A", ends_on=day(-30))
    check(runtime, TODAY)
    assert client.post(f"/api/v1/contexts/{acme['id']}/reactivate").status_code == 200
    assert check(runtime, day(1)) == []
    assert state(client, acme) == ("active", None)
    # A contract that ends after the reactivation counts again.
    put(client, "SHORT", "A", starts_on=TODAY, ends_on=day(2))
    assert check(runtime, day(16)) == []
    assert check(runtime, day(17)) != [] and state(client, acme)[0] == "suspended"


def test_a_status_change_by_patch_is_a_hand_suspension(client: TestClient) -> None:
    acme = account(client, "A")
    changed = client.patch(f"/api/v1/contexts/{acme['id']}", json={"status": "suspended"})
    assert changed.status_code == 200 and changed.json()["suspended_by"] == "administrator"
    assert len(events(client, "context.suspended")) == 1
    reopened = client.patch(f"/api/v1/contexts/{acme['id']}", json={"status": "active"})
    assert reopened.json()["status"] == "active" and reopened.json()["suspended_by"] is None
    assert len(events(client, "context.reactivated")) == 1


def test_a_context_created_suspended_is_suspended_by_hand(
    client: TestClient, runtime: Runtime
) -> None:
    made = make_context(
        client, root_id(client), "account", "Closed", number="S", status="suspended"
    )
    assert made["suspended_by"] == "administrator"
    put(client, "S-1", "S")
    assert check(runtime, TODAY) == [] and state(client, made) == ("suspended", "administrator")


def test_two_nodes_checking_at_once_suspend_once(client: TestClient, runtime: Runtime) -> None:
    for n in range(5):
        account(client, f"R-{n}")
        put(client, f"RC-{n}", f"R-{n}", ends_on=day(-20))
    other = Runtime.from_settings(runtime.settings)  # a second node on the same database
    results: list[list[str]] = []
    barrier = threading.Barrier(2)

    def node(rt: Runtime) -> None:
        barrier.wait()
        results.append(check(rt, TODAY))

    threads = [threading.Thread(target=node, args=(rt,)) for rt in (runtime, other)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        other.close()
    assert sum(len(r) for r in results) == 5
    suspended = events(client, "context.suspended")
    assert (
        sorted(e["target_id"] for e in suspended) == sorted({e["target_id"] for e in suspended})
        and len(suspended) == 5
    )


def test_the_server_runs_the_check_in_the_background(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = account(client, "B-1")
    put(client, "B-C", "B-1", ends_on=day(-20))
    monkeypatch.setattr(lifecycle, "FIRST_CHECK_SECONDS", 0.01)
    worker = ContractWorker(runtime, today=lambda: TODAY)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with runtime.sessions() as session:
                status = session.scalars(
                    select(Context.status).where(Context.id == uuid.UUID(acme["id"]))
                ).one()
            if status == "suspended":
                break
            time.sleep(0.05)
    finally:
        worker.stop()
    assert status == "suspended"
    assert (
        start_contract_worker(
            Runtime(
                runtime.settings.model_copy(update={"contract_check_minutes": 0}),
                runtime.engine,
                runtime.sessions,
                runtime.passwords,
            )
        )
        is None
    )


def test_the_command_prints_what_it_changed(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate", OSTIARY_BOOTSTRAP_ADMIN_PASSWORD="x" * 16).returncode == 0
    runtime = Runtime.from_settings(Settings(data_dir=tmp_path))
    try:
        with runtime.sessions() as session:
            service = ContextService(session, ACTOR)
            root = service.root()
            assert root is not None
            service.create(
                ContextCreate(
                    type=ContextType.ACCOUNT, name="Acme", number="CLI-1", parent_id=root.id
                )
            )
        from ostiary.contracts.schemas import ContractCreate
        from ostiary.contracts.services import ContractService

        with runtime.sessions() as session:
            contracts = ContractService(session, ACTOR, TODAY)
            contracts.create(
                ContractCreate(
                    external_id="K-1",
                    account="CLI-1",
                    product="Portal",
                    status="active",
                    starts_on=day(-60),
                    ends_on=day(-20),
                ),  # type: ignore[arg-type]
                contracts.find_account("CLI-1"),
            )
    finally:
        runtime.close()
    first = run(tmp_path, "contracts", "check", "--today", TODAY.isoformat())
    assert first.returncode == 0, first.stderr
    assert f"context.suspended Acme (CLI-1): no running contract since {day(-20)}" in first.stdout
    again = run(tmp_path, "contracts", "check", "--today", TODAY.isoformat())
    assert "0 change(s)" in again.stdout
    bad = run(tmp_path, "contracts", "check", "--today", "someday")
    assert bad.returncode == 1 and "--today" in bad.stderr and len(bad.stderr.splitlines()) == 1
