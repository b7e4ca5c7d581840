"""The invitation services without HTTP: a link used by two at once, what a race leaves to the
database, groups deleted meanwhile, and re-sending into a conflict."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from ostiary.access.admin import AdminScope
from ostiary.access.catalogue import Right
from ostiary.access.groups import GroupService
from ostiary.access.guard import GrantGuard
from ostiary.audit.actor import Actor
from ostiary.audit.models import AuditEvent
from ostiary.contexts.models import Context, ContextType
from ostiary.contexts.services import ContextService
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.errors import AlreadyExists
from ostiary.invitations.acceptance import Acceptance, LinkUnusable, Unusable
from ostiary.invitations.models import Invitation, InvitationState
from ostiary.invitations.schemas import InvitationCreate
from ostiary.invitations.services import InvitationService, Inviter
from ostiary.messages.models import Message
from ostiary.runtime import Runtime
from ostiary.users.models import Membership, User

PASSWORD = "a long and quiet evening"
FORM = {
    "first_name": "Jeremy",
    "last_name": "Mills",
    "password": PASSWORD,
    "confirmation": PASSWORD,
}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_worker": False}


@pytest.fixture
def city(runtime: Runtime) -> Iterator[Context]:
    with runtime.sessions() as session:
        service = ContextService(session, Actor("test", "cli"))
        root = service.root()
        assert root is not None
        from ostiary.contexts.schemas import ContextCreate

        city = service.create(
            ContextCreate(type=ContextType.ACCOUNT, name="City Group", parent_id=root.id)
        )
        session.expunge(city)
        yield city


def staff(session: OstiarySession, runtime: Runtime) -> Inviter:
    admin = session.scalars(select(User).where(User.username == "admin")).one()
    root = ContextService(session, Actor("test", "cli")).root()
    assert root is not None
    actor = Actor("admin", "api", admin.id)
    scope = AdminScope(actor, Right.INVITATIONS_MANAGE, (root.path,), root.path)
    return Inviter(actor, scope, GrantGuard(session, runtime.rights, admin, scope), "admin")


def invite(runtime: Runtime, context: Context, email: str, **extra: object) -> str:
    """The invitation's link token, read from the outbox."""
    with runtime.sessions() as session:
        data = InvitationCreate(context_id=context.id, email=email, **extra)  # type: ignore[arg-type]
        InvitationService(session, runtime).create(data, staff(session, runtime))
        text = session.scalars(
            select(Message.text).where(Message.purpose == "invitation").order_by(Message.id.desc())
        ).first()
    assert text is not None
    return text.split("token=")[1].split()[0]


def test_of_two_acceptances_at_once_exactly_one_wins(runtime: Runtime, city: Context) -> None:
    token = invite(runtime, city, "jeremy@city.example")
    # Both opened the page while the link was live, then both send the form.
    for _ in range(2):
        with runtime.read_sessions() as reading:
            Acceptance(runtime, reading, None).open(token)
    with runtime.sessions() as first:
        Acceptance(runtime, first, None).register(token, FORM)
    with runtime.sessions() as second, pytest.raises(LinkUnusable) as refused:
        Acceptance(runtime, second, None).register(token, FORM)
    assert refused.value.reason is Unusable.ACCEPTED
    with runtime.sessions() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(User)
                .where(User.email_key == "jeremy@city.example")
            )
            == 1
        )
        assert (
            session.scalar(
                select(func.count()).select_from(Membership).where(Membership.context_id == city.id)
            )
            == 1
        )


def test_a_group_deleted_meanwhile_is_left_out(runtime: Runtime, city: Context) -> None:
    with runtime.sessions() as session:
        context = session.get(Context, city.id)
        assert context is not None
        groups = GroupService(session, Actor("test", "cli"))
        with session.atomic():
            groups.put(context, "Temporary", role=None, rights={})
            groups.put(context, "Kept", role=None, rights={})
    token = invite(runtime, city, "kim@city.example", groups=["Temporary", "Kept"])
    with runtime.sessions() as session:
        context = session.get(Context, city.id)
        assert context is not None
        groups = GroupService(session, Actor("test", "cli"))
        temporary = groups.find(context, "Temporary")
        assert temporary is not None
        groups.delete(temporary)
    with runtime.sessions() as session:
        user, _ = Acceptance(runtime, session, None).register(token, FORM)
        context = session.get(Context, city.id)
        assert context is not None
        names = {
            g.name
            for g in GroupService(session, Actor("t", "cli")).list(context)
            if user.id in {m.user_id for m in g.members}
        }
        assert names == {"Kept", "Administrators"}


def test_a_resend_cannot_make_two_pending_invitations(runtime: Runtime, city: Context) -> None:
    invite(runtime, city, "max@city.example")
    with runtime.sessions() as session, session.atomic():
        session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
    invite(runtime, city, "max@city.example")
    with runtime.sessions() as session:
        service = InvitationService(session, runtime)
        inviter = staff(session, runtime)
        old, new = service.search(visible_paths=None, email="max@city.example")[::-1]
        assert old.state(utcnow()) is InvitationState.EXPIRED
        assert new.state(utcnow()) is InvitationState.PENDING
        with pytest.raises(AlreadyExists) as refused:
            service.resend(old, inviter)
        assert refused.value.field == "email"
    with runtime.sessions() as session:
        [expired] = InvitationService(session, runtime).search(
            visible_paths=None, state=InvitationState.EXPIRED
        )
        assert expired.sent_count == 1


def test_racing_acceptances_make_one_account(runtime: Runtime, city: Context) -> None:
    token = invite(runtime, city, "racer@city.example")
    racers = 6
    barrier = threading.Barrier(racers)

    def attempt(_: int) -> object:
        with runtime.sessions() as session:
            barrier.wait()
            try:
                return Acceptance(runtime, session, None).register(token, FORM)[0].id
            except LinkUnusable as exc:
                return exc

    with ThreadPoolExecutor(racers) as pool:
        results = list(pool.map(attempt, range(racers)))
    losers = [r for r in results if isinstance(r, LinkUnusable)]
    assert len(losers) == racers - 1
    with runtime.sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(User).where(User.email_key == "racer@city.example")
            )
            == 1
        )
        accepted = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "invitation.accepted")
        )
    assert accepted == 1
