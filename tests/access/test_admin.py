"""A caller's standing is reused until a change that affects it, in any worker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, select

from ostiary.access.admin import Standings
from ostiary.access.cache import RightsCache
from ostiary.access.catalogue import Right
from ostiary.access.groups import GroupService
from ostiary.access.rightsets import RightSets
from ostiary.access.subjects import find_user
from ostiary.audit.actor import Actor
from ostiary.contexts.models import Context, ContextType
from ostiary.contexts.schemas import ContextCreate
from ostiary.contexts.services import ContextService
from ostiary.errors import FieldProblem
from ostiary.runtime import Runtime
from ostiary.users.domains import DomainService
from ostiary.users.memberships import MembershipService
from ostiary.users.models import User, UserStatus
from ostiary.users.schemas import DomainCreate, UserCreate
from ostiary.users.services import UserService

ACTOR = Actor("test", "cli")
LOCAL = Actor("admin", "api", client_address="127.0.0.1")


@contextmanager
def counted(runtime: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(runtime.engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(runtime.engine, "before_cursor_execute", seen)


def _standings() -> Standings:
    return Standings(RightsCache(direct_user_rights=False))


def test_a_warm_standing_costs_one_statement(runtime: Runtime) -> None:
    standings = _standings()
    with runtime.sessions() as session:
        admin = find_user(session.core(), "admin")
        assert admin is not None
        first = standings.of(session, admin)
        with counted(runtime) as statements:
            again = standings.of(session, admin)
    assert again is first
    assert len(statements) == 1 and "rights_epochs" in statements[0]
    assert again.scope(Right.USERS_MANAGE, LOCAL).unrestricted


def test_group_membership_and_move_changes_reach_the_standing(runtime: Runtime) -> None:
    standings = _standings()
    with runtime.sessions() as session:
        admin = find_user(session.core(), "admin")
        assert admin is not None
        root = session.scalars(select(Context).where(Context.key == "root")).one()
        assert standings.of(session, admin).scope(Right.AUDIT_READ, LOCAL).paths

    # Another worker takes audit.read from the administrators' group.
    with runtime.sessions() as other:
        root = other.scalars(select(Context).where(Context.key == "root")).one()
        groups = GroupService(other, ACTOR)
        group = groups.find(root, "Administrators")
        assert group is not None
        values = {r.acl_id: r.value for r in group.rights}
        values[next(r.acl_id for r in group.rights if r.acl.key == Right.AUDIT_READ)] = "false"
        groups.put(root, "Administrators", role=None, rights=values)

    with runtime.sessions() as session:
        standing = standings.of(session, admin)
        assert not standing.scope(Right.AUDIT_READ, LOCAL).paths
        assert standing.scope(Right.USERS_READ, LOCAL).unrestricted

    # Membership of a new account adds a context to the standing at once.
    with runtime.sessions() as other:
        root = other.scalars(select(Context).where(Context.key == "root")).one()
        account = ContextService(other, ACTOR).create(
            ContextCreate(parent_id=root.id, type=ContextType.ACCOUNT, key="acme", name="Acme")
        )
        user = other.get(User, admin.id)
        assert user is not None
        MembershipService(other, ACTOR).add(user, account)
    with runtime.sessions() as session:
        keys = [c.path for c, _ in standings.of(session, admin).places]
        assert len(keys) == 2

    # Leaving the root takes every root right away.
    with runtime.sessions() as other:
        root = other.scalars(select(Context).where(Context.key == "root")).one()
        user = other.get(User, admin.id)
        assert user is not None
        MembershipService(other, ACTOR).remove(user, root)
    with runtime.sessions() as session:
        standing = standings.of(session, admin)
        assert not standing.scope(Right.USERS_READ, LOCAL).unrestricted


def test_the_address_is_decided_per_scope(runtime: Runtime) -> None:
    standings = _standings()
    with runtime.sessions() as session:
        admin = find_user(session.core(), "admin")
        assert admin is not None
        standing = standings.of(session, admin)
    elsewhere = Actor("admin", "api", client_address="203.0.113.9")
    assert standing.scope(Right.USERS_READ, LOCAL).paths
    assert not standing.scope(Right.USERS_READ, elsewhere).paths


def test_a_standing_is_kept_per_set_of_external_roles(runtime: Runtime) -> None:
    """A login's role names (step e1) give it a standing of its own: one with the roles
    never answers for a login without them, nor the other way round."""
    standings = _standings()
    with runtime.sessions() as session:
        DomainService(session, ACTOR).create(
            DomainCreate(name="CORP", kind="delegated", context_types=["account"])
        )
        root = session.scalars(select(Context).where(Context.key == "root")).one()
        acme = ContextService(session, ACTOR).create(
            ContextCreate(parent_id=root.id, type=ContextType.ACCOUNT, key="acme", name="Acme")
        )
        UserService(session, ACTOR, runtime.passwords).create(
            UserCreate(username="pat", domain="CORP", status=UserStatus.ACTIVE), contexts=[acme]
        )
        problems: list[FieldProblem] = []
        values = RightSets(session).resolve(
            {"ostiary": {"access": True, "users.read": True, "API IP Allow": "0.0.0.0/0"}},
            place="rights",
            problems=problems,
        )
        assert problems == []
        GroupService(session, ACTOR).put(acme, "Admins by role", role="admins", rights=values)
        pat = find_user(session.core(), "pat")
        assert pat is not None

        with_role = standings.of(session, pat, ["admins"])
        assert with_role.scope(Right.USERS_READ, LOCAL).paths == (acme.path,)
        assert with_role.scope(Right.USERS_READ, LOCAL).external_roles == {"admins"}
        without = standings.of(session, pat)
        assert not without.scope(Right.USERS_READ, LOCAL).paths
        assert not standings.of(session, pat, ["other"]).scope(Right.USERS_READ, LOCAL).paths
        assert standings.of(session, pat, ("admins",)) is with_role
        assert standings.of(session, pat, []) is without
