"""Deciding a request: one decision wins when two are made at once, and what a webhook shows of
a registration, an invitation and a contract."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.access.guard import GrantGuard
from ostiary.audit.actor import Actor
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.errors import InvalidTransition
from ostiary.registrations.decisions import Decider, Decisions
from ostiary.registrations.models import Registration
from ostiary.runtime import Runtime
from ostiary.users.models import Membership, User
from ostiary.webhooks.renderers import render
from tests.helpers import make_context, root_id
from tests.registrations.support import OVERRIDES, browser, person, register


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(OVERRIDES)


def _decider(runtime: Runtime, session: OstiarySession) -> Decider:
    """The first administrator, whose reach is everything."""
    admin = session.scalars(select(User).where(User.username == "admin")).one()
    root = session.scalars(select(Context).where(Context.type == "root")).one()
    actor = Actor("admin", "api", admin.id)
    scope = AdminScope(actor, Right.REGISTRATIONS_MANAGE, (root.path,), root.path)
    return Decider(actor, scope, GrantGuard(session, runtime.rights, admin, scope))


def test_of_two_decisions_at_once_one_wins(client: TestClient, runtime: Runtime) -> None:
    if runtime.engine.dialect.name == "sqlite":
        pytest.skip("SQLite lets one writer at a time: the second waits for the first's lock")
    register(runtime, browser(runtime), organization="KOKO Media", **person("kim@koko.example"))
    [row] = client.get("/api/v1/registrations", params={"state": "pending"}).json()["items"]
    with runtime.sessions() as first, runtime.sessions() as second:
        one = first.get(Registration, uuid.UUID(row["id"]))
        other = second.get(Registration, uuid.UUID(row["id"]))
        assert one is not None and other is not None and other.state == "pending"
        # The second decider read it before the first decided (its read transaction ended, as
        # a web request's does; the row it holds still says pending).
        second.expunge(other)
        second.rollback()
        second.add(other)
        Decisions(first, runtime).approve(one, _decider(runtime, first))
        with pytest.raises(InvalidTransition):
            Decisions(second, runtime).reject(other, _decider(runtime, second), "late")
    with runtime.sessions() as session:
        stored = session.get(Registration, uuid.UUID(row["id"]))
        assert stored is not None and stored.state == "approved" and stored.reason is None
        members = session.scalar(select(func.count()).select_from(Membership))
        user = session.get(User, stored.user_id)
        assert user is not None and user.status == "active" and members


def test_webhook_objects_show_no_link_or_token(client: TestClient, runtime: Runtime) -> None:
    city = make_context(client, root_id(client), "account", "City Group", number="CG-1")
    invited = client.post(
        "/api/v1/invitations", json={"context_id": city["id"], "email": "a@city.example"}
    ).json()
    contract = client.put(
        "/api/v1/contracts/C-1",
        json={"account": "CG-1", "product": "P", "status": "active", "starts_on": "2020-01-01"},
    ).json()
    register(runtime, browser(runtime), organization="KOKO Media", **person("kim@koko.example"))
    [row] = client.get("/api/v1/registrations").json()["items"]
    with runtime.sessions() as session:
        shown_invitation = render(session, "invitation", invited["id"])
        shown_contract = render(session, "contract", contract["id"])
        shown_registration = render(session, "registration", row["id"])
        assert render(session, "registration", str(uuid.uuid4())) is None
    assert shown_invitation is not None and shown_invitation["email"] == "a@city.example"
    assert "token" not in json.dumps(shown_invitation) and "link" not in shown_invitation
    assert shown_contract is not None and shown_contract["external_id"] == "C-1"
    assert shown_registration is not None and shown_registration["organization"] == "KOKO Media"
    assert "password" not in json.dumps(shown_registration)
