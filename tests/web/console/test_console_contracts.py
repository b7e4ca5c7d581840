"""Contracts in the console: staff list, create and change them with errors next to the field
and what was typed kept; a write that lets a contract run again reactivates the account and
says so; an account's page tells when the lifecycle will suspend it; a contact person reads
their own organization's contracts only, with no form to write, and a forged form changes
nothing. Moving a context: a cycle is refused by the field, a parent out of reach audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.contexts.models import Context, SuspensionReason
from ostiary.contexts.suspension import Suspensions
from ostiary.contracts.models import Contract
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.web.console.onboarding import make_staff
from tests.web.console.support import csrf_of, make_world, sign_in


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False}


@pytest.fixture
def world(runtime: Runtime, tmp_path: Path) -> Runtime:
    make_world(runtime, tmp_path)
    make_staff(runtime, tmp_path)
    return runtime


def _console(runtime: Runtime, username: str, context: str) -> Iterator[TestClient]:
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        sign_in(client, username, context)
        yield client


@pytest.fixture
def staff(world: Runtime) -> Iterator[TestClient]:
    yield from _console(world, "stella", "Root")


@pytest.fixture
def carla(world: Runtime) -> Iterator[TestClient]:
    yield from _console(world, "carla", "City Group")


def _context(runtime: Runtime, key: str) -> Context:
    with runtime.sessions() as session:
        context = session.scalars(select(Context).where(Context.key == key)).one()
        session.expunge(context)
        return context


def _contracts(runtime: Runtime) -> list[Contract]:
    with runtime.sessions() as session:
        rows = session.scalars(select(Contract).order_by(Contract.external_id)).all()
        session.expunge_all()
        return list(rows)


def _form(page: str, **fields: str) -> dict[str, str]:
    today = date.today()
    return {
        "csrf": csrf_of(page),
        "external_id": "C-100",
        "account": "",
        "product": "Energy",
        "status": "active",
        "starts_on": today.isoformat(),
        "ends_on": "",
        **fields,
    }


def _out_of_reach(runtime: Runtime, target: object) -> int:
    with runtime.sessions() as session:
        return len(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "access.out_of_reach",
                    AuditEvent.target_id == str(target),
                )
            ).all()
        )


def test_staff_create_a_contract_and_bad_input_changes_nothing(
    staff: TestClient, world: Runtime
) -> None:
    city = str(_context(world, "city").id)
    page = staff.get("/console/contracts").text
    assert 'id="create-contract"' in page and 'id="nav-contracts"' in page
    german = staff.get("/console/contracts", headers={"accept-language": "de"}).text
    assert "Vertrag anlegen" in german and "Verträge" in german
    bad = staff.post(
        "/console/contracts",
        data=_form(page, account=city, starts_on="2026-03-01", ends_on="2026-02-01"),
    )
    assert bad.status_code == 422 and 'id="ends_on-error"' in bad.text
    assert "The end must not be before the start." in bad.text
    for kept in ('value="C-100"', 'value="Energy"', 'value="2026-03-01"', 'value="2026-02-01"'):
        assert kept in bad.text, kept
    many = staff.post(
        "/console/contracts",
        data=_form(page, external_id="-bad", account=city, product="", starts_on="yesterday"),
    )
    assert many.status_code == 422
    for field in ("external_id", "product", "starts_on"):
        assert f'id="{field}-error"' in many.text, field
    unknown = staff.post("/console/contracts", data=_form(page, account="NO-SUCH"))
    assert unknown.status_code == 422 and 'id="account-error"' in unknown.text
    customer = str(_context(world, "city-north").id)
    not_an_account = staff.post("/console/contracts", data=_form(page, account=customer))
    assert not_an_account.status_code == 422 and 'id="account-error"' in not_an_account.text
    assert _contracts(world) == []

    done = staff.post("/console/contracts", data=_form(page, account=city))
    assert done.status_code == 303
    [contract] = _contracts(world)
    assert (contract.external_id, contract.product, contract.status) == (
        "C-100",
        "Energy",
        "active",
    )
    listed = staff.get(done.headers["location"]).text
    assert 'id="notice"' in listed and 'href="/console/contracts/C-100"' in listed
    again = staff.post("/console/contracts", data=_form(page, account=city))
    assert again.status_code == 409 and 'id="external_id-error"' in again.text
    assert len(_contracts(world)) == 1


def test_staff_change_a_contract_with_errors_next_to_the_field(
    staff: TestClient, world: Runtime
) -> None:
    city = str(_context(world, "city").id)
    page = staff.get("/console/contracts").text
    staff.post("/console/contracts", data=_form(page, external_id="C/7", account=city))
    edit = staff.get("/console/contracts/C/7")
    assert edit.status_code == 200 and 'id="save-contract"' in edit.text
    form = {k: v for k, v in _form(edit.text, account=city).items() if k != "external_id"}
    bad = staff.post("/console/contracts/C/7", data={**form, "ends_on": "2000-01-01"})
    assert bad.status_code == 422 and 'id="ends_on-error"' in bad.text
    assert 'value="2000-01-01"' in bad.text and "The end must not be before the start." in bad.text
    empty = staff.post("/console/contracts/C/7", data={**form, "product": "", "status": ""})
    assert empty.status_code == 422
    assert 'id="product-error"' in empty.text and 'id="status-error"' in empty.text
    [unchanged] = _contracts(world)
    assert unchanged.ends_on is None and unchanged.product == "Energy"
    done = staff.post("/console/contracts/C/7", data={**form, "status": "cancelled"})
    assert done.status_code == 303
    assert _contracts(world)[0].status == "cancelled"
    assert staff.get("/console/contracts/NO-SUCH").status_code == 404


def test_a_running_contract_reactivates_the_account_and_the_page_says_so(
    staff: TestClient, world: Runtime
) -> None:
    city = _context(world, "city")
    page = staff.get("/console/contracts").text
    long_ago = date.today() - timedelta(days=400)
    ended = _form(
        page,
        external_id="C-OLD",
        account=str(city.id),
        starts_on=long_ago.isoformat(),
        ends_on=(long_ago + timedelta(days=30)).isoformat(),
    )
    assert staff.post("/console/contracts", data=ended).status_code == 303
    shown = staff.get("/console/contracts", params={"account": str(city.id)}).text
    assert 'id="account-outlook"' in shown and date.today().isoformat() in shown
    with world.sessions() as session:
        context = session.get(Context, city.id)
        assert context is not None
        Suspensions(session, Actor.system()).suspend(context, SuspensionReason.CONTRACT)
        session.commit()
    suspended = staff.get("/console/contracts", params={"account": str(city.id)}).text
    assert 'id="account-status"' in suspended and "suspended because no contract ran" in suspended

    done = staff.post("/console/contracts", data=_form(page, account=str(city.id)))
    assert done.status_code == 303 and "done=reactivated" in done.headers["location"]
    assert "the account was reactivated" in staff.get(done.headers["location"]).text
    assert _context(world, "city").status == "active"


def test_a_contact_person_reads_their_own_contracts_and_writes_none(
    staff: TestClient, carla: TestClient, world: Runtime
) -> None:
    city, other = _context(world, "city"), _context(world, "other")
    page = staff.get("/console/contracts").text
    staff.post("/console/contracts", data=_form(page, external_id="C-CITY", account=str(city.id)))
    staff.post("/console/contracts", data=_form(page, external_id="C-OTHER", account=str(other.id)))
    own = carla.get("/console/contracts")
    assert own.status_code == 200
    assert "C-CITY" in own.text and "C-OTHER" not in own.text
    assert 'id="create-contract"' not in own.text
    assert 'id="save-contract"' not in carla.get("/console/contracts/C-CITY").text
    assert carla.get("/console/contracts/C-OTHER").status_code == 404
    [other_contract] = [c for c in _contracts(world) if c.external_id == "C-OTHER"]
    assert _out_of_reach(world, other_contract.id) == 1
    filtered = carla.get("/console/contracts", params={"account": str(other.id)})
    assert filtered.status_code == 422 and 'id="filter_account-error"' in filtered.text
    assert _out_of_reach(world, other.id) == 1
    refused = carla.post(
        "/console/contracts", data=_form(own.text, external_id="C-NEW", account=str(city.id))
    )
    assert refused.status_code == 403
    changed = carla.post(
        "/console/contracts/C-CITY",
        data={**_form(own.text, account=str(city.id)), "status": "cancelled"},
    )
    assert changed.status_code == 403
    assert [c.status for c in _contracts(world)] == ["active", "active"]


def test_a_forged_contract_form_changes_nothing(staff: TestClient, world: Runtime) -> None:
    city = str(_context(world, "city").id)
    page = staff.get("/console/contracts").text
    forged = staff.post("/console/contracts", data={**_form(page, account=city), "csrf": "x"})
    assert forged.status_code == 403
    assert _contracts(world) == []


def test_moving_a_context(carla: TestClient, world: Runtime) -> None:
    page = carla.get("/console/contexts").text
    assert 'id="move-context-button"' in page
    city, north, other = (_context(world, k) for k in ("city", "city-north", "other"))
    cycle = carla.post(
        "/console/contexts/move",
        data={"csrf": csrf_of(page), "context_id": str(city.id), "parent_id": str(north.id)},
    )
    assert cycle.status_code == 422 and 'id="move_parent_id-error"' in cycle.text
    assert "cannot move into its own subtree" in cycle.text
    beyond = carla.post(
        "/console/contexts/move",
        data={"csrf": csrf_of(page), "context_id": str(north.id), "parent_id": str(other.id)},
    )
    assert beyond.status_code == 422 and 'id="move_parent_id-error"' in beyond.text
    assert _out_of_reach(world, other.id) == 1
    assert _context(world, "city-north").parent_id == city.id
    forged = carla.post(
        "/console/contexts/move",
        data={"csrf": "x", "context_id": str(north.id), "parent_id": str(city.id)},
    )
    assert forged.status_code == 403


def test_staff_move_a_context_under_another_parent(staff: TestClient, world: Runtime) -> None:
    page = staff.get("/console/contexts").text
    north, other = _context(world, "city-north"), _context(world, "other")
    done = staff.post(
        "/console/contexts/move",
        data={"csrf": csrf_of(page), "context_id": str(north.id), "parent_id": str(other.id)},
    )
    assert done.status_code == 303
    moved = _context(world, "city-north")
    assert moved.parent_id == other.id and moved.path.startswith(other.path)
