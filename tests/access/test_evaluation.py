"""Effective rights, step by step as PRODUCT.md lists them."""

from __future__ import annotations

from typing import Any

import pytest

from ostiary.access.catalogue import AclSpec, ModuleSpec
from ostiary.access.evaluation import RightsEvaluator, Step
from ostiary.access.groups import GroupService
from ostiary.access.models import USER_PREFERENCES, AclType, Module, PolicyRight, UserRight
from ostiary.access.modules import ModuleService
from ostiary.access.rightsets import RightSets
from ostiary.audit.actor import Actor
from ostiary.contexts.models import Context, ContextType
from ostiary.contexts.schemas import ContextCreate
from ostiary.contexts.services import ContextService
from ostiary.db.session import OstiarySession
from ostiary.runtime import Runtime
from ostiary.users.models import DomainKind, User, UserStatus
from ostiary.users.schemas import DomainCreate, UserCreate
from ostiary.users.services import UserService

EP = ModuleSpec(
    key="ep",
    name="Enterprise Portal",
    context_types=["root", "account"],
    access_right="epAccess",
    acls=[
        AclSpec("epAccess", "Module"),
        AclSpec("sim.modify", "SIM Cards"),
        AclSpec("sim.read", "SIM Cards"),
        AclSpec("API IP Allow", "API", AclType.TEXT),
        AclSpec("Dashboard Panels", USER_PREFERENCES, AclType.TEXT),
    ],
)


class World:
    def __init__(self, runtime: Runtime, session: OstiarySession) -> None:
        self.session = session
        self.actor = Actor("test", "cli")
        ModuleService(session, self.actor).put(EP)
        self.module = session.query(Module).filter_by(key="ep").one()
        contexts = ContextService(session, self.actor)
        root = contexts.root()
        assert root is not None
        self.account = contexts.create(
            ContextCreate(type=ContextType.ACCOUNT, name="Acme", parent_id=root.id)
        )
        self.customer = contexts.create(
            ContextCreate(
                type=ContextType.CUSTOMER, name="Acme Customer", parent_id=self.account.id
            )
        )
        self.users = UserService(session, self.actor, runtime.passwords)
        self.runtime = runtime

    def user(
        self, name: str, domain: str = "ENTERPRISE", contexts: tuple[Context, ...] = ()
    ) -> User:
        return self.users.create(
            UserCreate(username=name, domain=domain, status=UserStatus.ACTIVE),
            contexts=contexts or (self.account,),
        )

    def group(
        self,
        name: str,
        rights: dict[str, Any],
        *,
        role: str | None = None,
        members: tuple[User, ...] = (),
        context: Context | None = None,
    ) -> None:
        context = context or self.account
        problems: list = []
        values = RightSets(self.session).resolve({"ep": rights}, place="rights", problems=problems)
        assert not problems, problems
        groups = GroupService(self.session, self.actor)
        group, _ = groups.put(context, name, role=role, rights=values)
        for member in members:
            groups.set_members_of_user(
                member.id, context, {group.id, *self._groups_of(member, context)}
            )

    def _groups_of(self, user: User, context: Context) -> set:  # type: ignore[type-arg]
        from sqlalchemy import select

        from ostiary.access.models import GroupMember, UserGroup

        return set(
            self.session.scalars(
                select(GroupMember.group_id)
                .join(UserGroup, UserGroup.id == GroupMember.group_id)
                .where(GroupMember.user_id == user.id, UserGroup.context_id == context.id)
            )
        )

    def acl_id(self, key: str):  # type: ignore[no-untyped-def]
        return next(acl.id for acl in self.module.acls if acl.key == key)

    def evaluate(
        self,
        user: User,
        *,
        context: Context | None = None,
        direct: bool = False,
        roles: tuple[str, ...] = (),
    ):  # type: ignore[no-untyped-def]
        evaluator = RightsEvaluator(self.session, direct_user_rights=direct)
        return evaluator.evaluate(user, context or self.account, self.module, external_roles=roles)


@pytest.fixture
def world(runtime: Runtime, session: OstiarySession) -> World:
    return World(runtime, session)


def test_unset_is_false_and_user_preferences_never_appear(world: World) -> None:
    user = world.user("nobody")
    rights = world.evaluate(user)
    assert not rights.access
    assert "Dashboard Panels" not in rights.decisions
    assert rights.decisions["sim.read"].value is False
    assert rights.decisions["API IP Allow"].value is None


def test_groups_apply_in_alphabetical_order_later_overwrites(world: World) -> None:
    user = world.user("member")
    world.group("b-writers", {"epAccess": True, "sim.modify": True}, members=(user,))
    world.group(
        "a-readers", {"epAccess": True, "sim.modify": False, "sim.read": True}, members=(user,)
    )
    world.group("C-denied", {"sim.read": False}, members=(user,))
    rights = world.evaluate(user)
    assert rights.access
    assert rights.decisions["sim.modify"].value is True
    assert rights.decisions["sim.modify"].group == "b-writers"
    assert (
        rights.decisions["sim.read"].value is False
        and rights.decisions["sim.read"].group == "C-denied"
    )
    assert rights.decisions["sim.read"].step is Step.E2


def test_groups_of_other_contexts_do_not_count(world: World) -> None:
    user = world.user("elsewhere", contexts=(world.account, world.customer))
    world.group(
        "customer-admins",
        {"epAccess": True, "sim.modify": True},
        members=(user,),
        context=world.customer,
    )
    assert not world.evaluate(user).access
    assert (
        world.evaluate(user, context=world.customer).decisions["sim.modify"].value is False
    )  # not for customers


def test_e1_only_for_delegated_users_and_only_from_login_roles(
    world: World, runtime: Runtime
) -> None:
    from ostiary.users.domains import DomainService

    DomainService(world.session, world.actor).create(
        DomainCreate(name="PARTNER", kind=DomainKind.DELEGATED, context_types=[ContextType.ACCOUNT])
    )
    delegated = world.user("fed", domain="PARTNER")
    local = world.user("loc")
    world.group("mapped", {"epAccess": True, "sim.read": True}, role="ep-reader")
    world.group("z-members", {"sim.read": False}, members=(delegated,))

    assert not world.evaluate(delegated).access  # no roles in this login
    rights = world.evaluate(delegated, roles=("ep-reader",))
    assert rights.access and rights.decisions["epAccess"].step is Step.E1
    assert (
        rights.decisions["sim.read"].value is False and rights.decisions["sim.read"].step is Step.E2
    )
    assert not world.evaluate(local, roles=("ep-reader",)).access


def test_e3_only_when_switched_on(world: World) -> None:
    user = world.user("direct")
    world.group("base", {"epAccess": True, "sim.modify": False}, members=(user,))
    world.session.add(
        UserRight(
            user_id=user.id,
            context_id=world.account.id,
            acl_id=world.acl_id("sim.modify"),
            value="true",
        )
    )
    world.session.flush()
    assert world.evaluate(user).decisions["sim.modify"].value is False
    decided = world.evaluate(user, direct=True).decisions["sim.modify"]
    assert decided.value is True and decided.step is Step.E3


def test_access_policy_caps_rights(world: World) -> None:
    user = world.user("capped")
    world.group(
        "all",
        {"epAccess": True, "sim.modify": True, "sim.read": True, "API IP Allow": "10.0.0.0/8"},
        members=(user,),
    )
    world.account.has_access_policy = True
    for key, value in {"epAccess": "true", "sim.read": "true", "sim.modify": "false"}.items():
        world.session.add(
            PolicyRight(context_id=world.account.id, acl_id=world.acl_id(key), value=value)
        )
    world.session.flush()
    rights = world.evaluate(user)
    assert rights.access and rights.decisions["sim.read"].value is True
    assert (
        rights.decisions["sim.modify"].value is False
        and rights.decisions["sim.modify"].step is Step.POLICY
    )
    assert rights.decisions["API IP Allow"].value is None


def test_module_access_rules_come_last(world: World) -> None:
    user = world.user("gated", contexts=(world.account, world.customer))
    world.group("no-gate", {"sim.read": True}, members=(user,))
    rights = world.evaluate(user)
    assert not rights.access and rights.decisions["sim.read"].step is Step.MODULE_ACCESS
    assert "epAccess" in (rights.denial or "")
    world.group(
        "gate", {"epAccess": True, "sim.read": True}, members=(user,), context=world.customer
    )
    closed = world.evaluate(user, context=world.customer)
    assert not closed.access and "customer" in (closed.denial or "")


def test_non_members_have_nothing(world: World) -> None:
    user = world.user("outsider", contexts=(world.customer,))
    world.group("open", {"epAccess": True, "sim.read": True})
    rights = world.evaluate(user)
    assert not rights.access and "not a member" in (rights.denial or "")
