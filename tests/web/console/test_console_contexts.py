"""The context tree in the console: the caller's subtree only, a new context under one in reach
with errors next to their field, suspension; other organizations' contexts stay out of reach."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.audit.models import AuditEvent
from ostiary.contexts.models import Context
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.web.console.support import csrf_of, make_world, sign_in


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False}


@pytest.fixture
def browser(runtime: Runtime, tmp_path: Path) -> Iterator[TestClient]:
    make_world(runtime, tmp_path)
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        sign_in(client, "carla", "City Group")
        yield client


def _context(runtime: Runtime, key: str) -> Context:
    with runtime.sessions() as session:
        return session.scalars(select(Context).where(Context.key == key)).one()


def test_the_tree_holds_the_subtree_only(browser: TestClient) -> None:
    page = browser.get("/console/contexts").text
    tree = page.split('<table id="contexts">')[1].split("</table>")[0]
    assert "City Group" in tree and "City North" in tree
    assert "Other Org" not in tree and "Root" not in tree


def test_a_new_context_with_errors_next_to_the_field(browser: TestClient, runtime: Runtime) -> None:
    page = browser.get("/console/contexts").text
    city = str(_context(runtime, "city").id)
    form = {
        "csrf": csrf_of(page),
        "name": "",
        "type": "customer",
        "number": "C-7",
        "parent_id": city,
    }
    bad = browser.post("/console/contexts", data=form)
    assert bad.status_code == 422 and 'id="name-error"' in bad.text and 'value="C-7"' in bad.text
    done = browser.post("/console/contexts", data={**form, "name": "City South"})
    assert done.status_code == 303
    assert "City South" in browser.get("/console/contexts").text


def test_a_parent_beyond_the_subtree_is_refused_and_audited(
    browser: TestClient, runtime: Runtime
) -> None:
    page = browser.get("/console/contexts").text
    other = str(_context(runtime, "other").id)
    form = {"csrf": csrf_of(page), "name": "Sneaky", "type": "customer", "parent_id": other}
    answer = browser.post("/console/contexts", data=form)
    assert answer.status_code == 422 and 'id="parent_id-error"' in answer.text
    with runtime.sessions() as session:
        assert session.scalars(select(Context).where(Context.name == "Sneaky")).first() is None
        refused = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "access.out_of_reach", AuditEvent.target_id == other
            )
        ).all()
    assert len(refused) == 1


def test_suspend_and_reactivate_in_reach_only(browser: TestClient, runtime: Runtime) -> None:
    page = browser.get("/console/contexts").text
    north = _context(runtime, "city-north")
    answer = browser.post(f"/console/contexts/{north.id}/suspend", data={"csrf": csrf_of(page)})
    assert answer.status_code == 303
    assert _context(runtime, "city-north").status == "suspended"
    browser.post(f"/console/contexts/{north.id}/reactivate", data={"csrf": csrf_of(page)})
    assert _context(runtime, "city-north").status == "active"
    other = _context(runtime, "other")
    refused = browser.post(f"/console/contexts/{other.id}/suspend", data={"csrf": csrf_of(page)})
    assert refused.status_code == 404
    assert _context(runtime, "other").status == "active"
