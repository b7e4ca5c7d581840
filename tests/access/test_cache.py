"""Cached rights stay until a change that affects them, in any worker."""

from __future__ import annotations

from sqlalchemy import select

from ostiary.access.cache import RightsCache
from ostiary.access.catalogue import OSTIARY_MODULE
from ostiary.access.groups import GroupService
from ostiary.access.models import Acl, Module, PolicyRight
from ostiary.audit.actor import Actor
from ostiary.contexts.models import Context
from ostiary.runtime import Runtime
from ostiary.users.memberships import MembershipService
from ostiary.users.models import User

ACTOR = Actor("test", "cli")


def _admin_and_root(session):  # type: ignore[no-untyped-def]
    admin = session.scalars(select(User).where(User.username == "admin")).one()
    root = session.scalars(select(Context).where(Context.key == "root")).one()
    return admin, root


def _acl(session, key: str) -> Acl:  # type: ignore[no-untyped-def]
    module = session.scalars(select(Module).where(Module.key == OSTIARY_MODULE)).one()
    return next(acl for acl in module.acls if acl.key == key)


def test_cache_reuses_until_a_group_changes_in_another_worker(runtime: Runtime) -> None:
    worker_a = RightsCache(direct_user_rights=False)
    with runtime.sessions() as session:
        admin, root = _admin_and_root(session)
        first = worker_a.effective(session, admin, root, OSTIARY_MODULE)
        assert first.allows("audit.read")
        assert worker_a.effective(session, admin, root, OSTIARY_MODULE) is first

    # Another worker (its own session and cache) takes audit.read from the group.
    with runtime.sessions() as other:
        admin, root = _admin_and_root(other)
        groups = GroupService(other, ACTOR)
        group = groups.find(root, "Administrators")
        assert group is not None
        values = {r.acl_id: r.value for r in group.rights}
        values[_acl(other, "audit.read").id] = "false"
        groups.put(root, "Administrators", role=None, rights=values)

    with runtime.sessions() as session:
        admin, root = _admin_and_root(session)
        again = worker_a.effective(session, admin, root, OSTIARY_MODULE)
        assert again is not first and not again.allows("audit.read") and again.allows("users.read")


def test_membership_and_policy_changes_invalidate(runtime: Runtime) -> None:
    cache = RightsCache(direct_user_rights=False)
    with runtime.sessions() as session:
        admin, root = _admin_and_root(session)
        assert cache.effective(session, admin, root, OSTIARY_MODULE).allows("users.manage")

        with session.atomic():
            root.has_access_policy = True
            for key in ("access", "users.read"):
                session.add(
                    PolicyRight(context_id=root.id, acl_id=_acl(session, key).id, value="true")
                )
        capped = cache.effective(session, admin, root, OSTIARY_MODULE)
        assert capped.allows("users.read") and not capped.allows("users.manage")

        MembershipService(session, ACTOR).remove(admin, root)
        assert not cache.effective(session, admin, root, OSTIARY_MODULE).access


def test_a_change_elsewhere_keeps_the_entry(runtime: Runtime) -> None:
    from ostiary.contexts.models import ContextType
    from ostiary.contexts.schemas import ContextCreate
    from ostiary.contexts.services import ContextService

    cache = RightsCache(direct_user_rights=False)
    with runtime.sessions() as session:
        admin, root = _admin_and_root(session)
        first = cache.effective(session, admin, root, OSTIARY_MODULE)
        account = ContextService(session, ACTOR).create(
            ContextCreate(type=ContextType.ACCOUNT, name="Elsewhere", parent_id=root.id)
        )
        GroupService(session, ACTOR).put(account, "Elsewhere group", role=None, rights={})
        assert cache.effective(session, admin, root, OSTIARY_MODULE) is first
