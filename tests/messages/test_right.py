"""The ``messages.manage`` right: the root administrators hold it, after an upgrade too."""

from __future__ import annotations

from sqlalchemy import delete, select

from ostiary.access.catalogue import OSTIARY_MODULE, Right
from ostiary.access.groups import GroupService
from ostiary.access.models import Acl, GroupRight, Module
from ostiary.access.templates import TemplateService
from ostiary.audit.actor import Actor
from ostiary.bootstrap import ADMINISTRATORS_GROUP, ROOT_ADMINISTRATOR_TEMPLATE, ensure_defaults
from ostiary.contexts.services import ContextService
from ostiary.db.session import OstiarySession
from ostiary.runtime import Runtime


def _holders(session: OstiarySession) -> tuple[set[str], set[str]]:
    actor = Actor.system()
    template = TemplateService(session, actor).find(ROOT_ADMINISTRATOR_TEMPLATE)
    root = ContextService(session, actor).root()
    assert template is not None and root is not None
    group = GroupService(session, actor).find(root, ADMINISTRATORS_GROUP)
    assert group is not None
    return (
        {right.acl.key for right in template.rights if right.value == "true"},
        {right.acl.key for right in group.rights if right.value == "true"},
    )


def test_root_administrators_hold_the_right(session: OstiarySession) -> None:
    in_template, in_group = _holders(session)
    assert Right.MESSAGES_MANAGE in in_template and Right.MESSAGES_MANAGE in in_group


def test_a_right_added_by_an_upgrade_goes_to_the_root_administrators(
    runtime: Runtime, session: OstiarySession
) -> None:
    # A database from before the right existed: drop the ACL (and with it every value of it);
    # and an operator took another right away from the Administrators.
    acls = {
        acl.key: acl.id
        for acl in session.scalars(
            select(Acl).join(Module, Module.id == Acl.module_id).where(Module.key == OSTIARY_MODULE)
        )
    }
    with session.atomic():
        session.execute(delete(Acl).where(Acl.id == acls[Right.MESSAGES_MANAGE]))
        session.execute(delete(GroupRight).where(GroupRight.acl_id == acls[Right.AUTHZ_CHECK]))
    session.expire_all()
    assert Right.MESSAGES_MANAGE not in _holders(session)[1]
    ensure_defaults(runtime, session)
    session.expire_all()
    in_template, in_group = _holders(session)
    assert Right.MESSAGES_MANAGE in in_template and Right.MESSAGES_MANAGE in in_group
    assert Right.AUTHZ_CHECK in in_template and Right.AUTHZ_CHECK not in in_group
