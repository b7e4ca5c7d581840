"""What every Ostiary has from its first start: the root context, the default user domains,
the ``ostiary`` module, an administrators group and the first administrator."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from ostiary.access.catalogue import DEFAULT_TEMPLATES, OSTIARY, OSTIARY_MODULE, Right
from ostiary.access.groups import GroupService
from ostiary.access.models import AclType, UserGroup
from ostiary.access.modules import ModuleService
from ostiary.access.rightsets import RightSets
from ostiary.access.templates import TemplateService
from ostiary.access.values import TRUE, normalise
from ostiary.audit.actor import Actor
from ostiary.authn.tokens import OneTimeTokens
from ostiary.clients.console import ensure_console_client
from ostiary.contexts.models import Context, ContextType
from ostiary.contexts.schemas import ContextCreate
from ostiary.contexts.services import ContextService
from ostiary.db.session import OstiarySession
from ostiary.errors import FieldProblem
from ostiary.runtime import Runtime
from ostiary.users.domains import DomainService
from ostiary.users.memberships import MembershipService
from ostiary.users.models import DomainKind, User, UserStatus
from ostiary.users.schemas import DomainCreate, UserCreate
from ostiary.users.services import UserService

ADMINISTRATORS_GROUP = "Administrators"
ROOT_ADMINISTRATOR_TEMPLATE = "root-administrator"
SETUP_PURPOSE = "admin-setup"
DEFAULT_DOMAINS = (
    DomainCreate(name="CSP", kind=DomainKind.LOCAL, context_types=list(ContextType)),
    DomainCreate(
        name="ENTERPRISE",
        kind=DomainKind.LOCAL,
        context_types=[ContextType.ACCOUNT, ContextType.CUSTOMER],
    ),
)


@dataclass(frozen=True)
class FirstAdmin:
    username: str
    created: bool
    # Set when the administrator still has to choose a password through this link.
    setup_link: str | None = None


def ensure_defaults(runtime: Runtime, session: OstiarySession) -> FirstAdmin | None:
    """Create what is missing; returns news of the first administrator: created just now,
    or still without a password (then with a fresh one-time setup link)."""
    actor = Actor.system()
    with session.atomic():
        contexts = ContextService(session, actor)
        root = contexts.root() or contexts.create(
            ContextCreate(key="root", type=ContextType.ROOT, name="Root")
        )
        domains = DomainService(session, actor)
        for spec in DEFAULT_DOMAINS:
            if domains.find(spec.name) is None:
                domains.create(spec)
        modules = ModuleService(session, actor)
        existing = modules.find(OSTIARY_MODULE)
        known = {acl.key for acl in existing.acls} if existing is not None else None
        modules.put(OSTIARY)
        _ensure_default_templates(session, actor)
        runtime.keys.ensure(session, actor=actor)
        ensure_console_client(session, runtime.settings, actor)
        admins = GroupService(session, actor).find(root, ADMINISTRATORS_GROUP)
        if admins is None:
            admins = _create_administrators(runtime, session, actor, root)
        elif known is not None:
            _grant_new_rights(session, actor, root, admins, known)
        return _ensure_first_admin(runtime, session, actor, root, admins.id)


def _ensure_default_templates(session: OstiarySession, actor: Actor) -> None:
    """Create the shipped templates once; later edits by the operator are kept."""
    templates = TemplateService(session, actor)
    for spec in DEFAULT_TEMPLATES:
        if templates.find(spec.key) is None:
            problems: list[FieldProblem] = []
            values = RightSets(session).resolve(spec.rights, place=spec.key, problems=problems)
            assert not problems, problems
            templates.put(spec.key, name=spec.name, context_types=spec.context_types, rights=values)


def _grant_new_rights(
    session: OstiarySession, actor: Actor, root: Context, admins: UserGroup, known: set[str]
) -> None:
    """Rights that an upgrade added to the ostiary catalogue go to the root administrator
    template and the Administrators group, which hold every right; nobody could grant them
    otherwise, as no one holds them yet. Rights the operator took away stay away."""
    module = ModuleService(session, actor).find(OSTIARY_MODULE)
    assert module is not None
    added = {
        acl.id: TRUE for acl in module.acls if acl.type == AclType.BOOL and acl.key not in known
    }
    if not added:
        return
    templates = TemplateService(session, actor)
    template = templates.find(ROOT_ADMINISTRATOR_TEMPLATE)
    if template is not None:
        templates.put(
            template.key,
            name=template.name,
            context_types=list(template.context_types),
            rights={**templates.values(template), **added},
        )
    current = {right.acl_id: right.value for right in admins.rights}
    GroupService(session, actor).put(
        root, admins.name, role=admins.role, rights={**current, **added}
    )


def _create_administrators(
    runtime: Runtime, session: OstiarySession, actor: Actor, root: Context
) -> UserGroup:
    """The root administrator template's rights, and API access from the configured networks."""
    module = ModuleService(session, actor).find(OSTIARY_MODULE)
    assert module is not None
    rights = {acl.id: TRUE for acl in module.acls if acl.type == AclType.BOOL}
    ip_allow = next(acl for acl in module.acls if acl.key == Right.API_IP_ALLOW)
    rights[ip_allow.id] = normalise(ip_allow, runtime.settings.bootstrap_admin_networks)
    group, _ = GroupService(session, actor).put(
        root, ADMINISTRATORS_GROUP, role=None, rights=rights
    )
    return group


def _ensure_first_admin(
    runtime: Runtime,
    session: OstiarySession,
    actor: Actor,
    root: Context,
    group_id: uuid.UUID,
) -> FirstAdmin | None:
    settings = runtime.settings
    username = settings.bootstrap_admin_username
    admin = session.scalars(select(User).where(User.username == username)).one_or_none()
    created = admin is None
    if admin is None:
        password = settings.bootstrap_admin_password
        admin = UserService(session, actor, runtime.passwords).create(
            UserCreate(username=username, domain="CSP", status=UserStatus.ACTIVE, password=password)
        )
        MembershipService(session, actor).add(admin, root)
        GroupService(session, actor).set_members_of_user(admin.id, root, {group_id})
    if admin.password_hash or admin.status != UserStatus.ACTIVE:
        return FirstAdmin(username, created) if created else None
    token = OneTimeTokens(session).issue(
        SETUP_PURPOSE, admin.id, timedelta(minutes=settings.setup_link_minutes)
    )
    return FirstAdmin(username, created, f"{settings.issuer.rstrip('/')}/setup?token={token}")
