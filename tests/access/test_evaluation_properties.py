"""Property tests: the evaluator agrees with a plain reading of PRODUCT.md's rules."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostiary.access.evaluation import RightsEvaluator
from ostiary.access.groups import GroupService
from ostiary.access.models import PolicyRight
from ostiary.audit.actor import Actor
from ostiary.contexts.models import ContextType
from ostiary.contexts.schemas import ContextCreate
from ostiary.contexts.services import ContextService
from ostiary.runtime import Runtime
from ostiary.users.models import DomainKind, UserStatus
from ostiary.users.schemas import DomainCreate, UserCreate
from ostiary.users.services import UserService
from tests.access.test_evaluation import EP

ACLS = ["epAccess", "sim.modify", "sim.read", "API IP Allow"]
VALUES = {
    "epAccess": st.sampled_from(["true", "false"]),
    "sim.modify": st.sampled_from(["true", "false"]),
    "sim.read": st.sampled_from(["true", "false"]),
    "API IP Allow": st.sampled_from(["10.0.0.0/8", "0.0.0.0/0"]),
}
ACTOR = Actor("property", "cli")
counter = itertools.count()


@dataclass(frozen=True)
class GroupPlan:
    name: str
    role: str | None
    rights: dict[str, str]
    member: bool


rights_st = st.fixed_dictionaries({}, optional={k: v for k, v in VALUES.items()})
group_st = st.builds(
    GroupPlan,
    name=st.text("abAB", min_size=1, max_size=3),
    role=st.sampled_from([None, "r1", "r2"]),
    rights=rights_st,
    member=st.booleans(),
)
plan_st = st.fixed_dictionaries(
    {
        "groups": st.lists(group_st, max_size=5, unique_by=lambda g: g.name),
        "delegated": st.booleans(),
        "roles": st.sets(st.sampled_from(["r1", "r2"])),
        "policy": st.none() | rights_st,
    }
)


def reference(plan: dict, member_of_context: bool = True) -> dict[str, object]:  # type: ignore[type-arg]
    """PRODUCT.md, "Effective rights", read literally."""
    result: dict[str, str | None] = dict.fromkeys(ACLS)
    ordered = sorted(plan["groups"], key=lambda g: (g.name.casefold(), g.name))
    if plan["delegated"]:
        for group in ordered:
            if group.role is not None and group.role in plan["roles"]:
                result.update(group.rights)
    for group in ordered:
        if group.member:
            result.update(group.rights)
    if plan["policy"] is not None:
        for key, value in result.items():
            granted = plan["policy"].get(key)
            if value is not None and (
                granted is None or (key != "API IP Allow" and granted != "true")
            ):
                result[key] = None
    if result["epAccess"] != "true" or not member_of_context:
        result = dict.fromkeys(ACLS)
    return {k: (v == "true") if k != "API IP Allow" else v for k, v in result.items()}


def _build(runtime: Runtime, plan: dict) -> dict[str, object]:  # type: ignore[type-arg]
    from ostiary.access.modules import ModuleService
    from ostiary.users.domains import DomainService

    n = next(counter)
    with runtime.sessions() as session:
        modules = ModuleService(session, ACTOR)
        if modules.find("ep") is None:
            modules.put(EP)
            DomainService(session, ACTOR).create(
                DomainCreate(
                    name="FED", kind=DomainKind.DELEGATED, context_types=[ContextType.ACCOUNT]
                )
            )
        module = modules.get("ep")
        acl_ids = {acl.key: acl.id for acl in module.acls}
        contexts = ContextService(session, ACTOR)
        root = contexts.root()
        assert root is not None
        context = contexts.create(
            ContextCreate(type=ContextType.ACCOUNT, name=f"P{n}", parent_id=root.id)
        )
        user = UserService(session, ACTOR, runtime.passwords).create(
            UserCreate(
                username=f"p{n}",
                domain="FED" if plan["delegated"] else "ENTERPRISE",
                status=UserStatus.ACTIVE,
            ),
            contexts=[context],
        )
        groups = GroupService(session, ACTOR)
        member_of: set = set()  # type: ignore[type-arg]
        for g in plan["groups"]:
            group, _ = groups.put(
                context, g.name, role=g.role, rights={acl_ids[k]: v for k, v in g.rights.items()}
            )
            if g.member:
                member_of.add(group.id)
        groups.set_members_of_user(user.id, context, member_of)
        if plan["policy"] is not None:
            with session.atomic():
                context.has_access_policy = True
                session.add_all(
                    PolicyRight(context_id=context.id, acl_id=acl_ids[k], value=v)
                    for k, v in plan["policy"].items()
                )
        rights = RightsEvaluator(session, direct_user_rights=False).evaluate(
            user, context, module, external_roles=plan["roles"]
        )
        return {key: d.value for key, d in rights.decisions.items() if key in ACLS}


SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(plan=plan_st)
def test_evaluator_matches_the_reference(runtime: Runtime, plan: dict) -> None:  # type: ignore[type-arg]
    assert _build(runtime, plan) == reference(plan)


@SETTINGS
@given(plan=plan_st, extra=rights_st)
def test_a_later_group_changes_only_what_it_sets(runtime: Runtime, plan: dict, extra: dict) -> None:  # type: ignore[type-arg]
    before = _build(runtime, plan)
    last = GroupPlan(name="zzzz", role=None, rights=extra, member=True)
    after = _build(runtime, {**plan, "groups": [*plan["groups"], last]})
    if plan["policy"] is None and before["epAccess"] and after["epAccess"]:
        for key in ACLS:
            if key not in extra:
                assert after[key] == before[key], key
    assert after == reference({**plan, "groups": [*plan["groups"], last]})
