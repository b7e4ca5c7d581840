"""The ``ostiary`` module: the rights that govern the admin API and console."""

from __future__ import annotations

from dataclasses import dataclass, field

from ostiary.access.models import AclType
from ostiary.access.values import API_IP_ALLOW

OSTIARY_MODULE = "ostiary"


@dataclass(frozen=True)
class AclSpec:
    key: str
    category: str
    type: AclType = AclType.BOOL
    description: str | None = None


@dataclass(frozen=True)
class ModuleSpec:
    key: str
    name: str
    context_types: list[str] = field(default_factory=list)
    access_right: str | None = None
    acls: list[AclSpec] = field(default_factory=list)


class Right:
    """Keys of the ostiary module's rights, as the code refers to them."""

    ACCESS = "access"
    CONTEXTS_READ = "contexts.read"
    CONTEXTS_MANAGE = "contexts.manage"
    USERS_READ = "users.read"
    USERS_MANAGE = "users.manage"
    USERS_LIFECYCLE = "users.lifecycle"
    USERS_TWO_FACTOR = "users.two_factor"
    DOMAINS_MANAGE = "domains.manage"
    ACCESS_READ = "access.read"
    ACCESS_MANAGE = "access.manage"
    CLIENTS_MANAGE = "clients.manage"
    AUDIT_READ = "audit.read"
    API_IP_ALLOW = API_IP_ALLOW


OSTIARY = ModuleSpec(
    key=OSTIARY_MODULE,
    name="Ostiary administration",
    access_right=Right.ACCESS,
    acls=[
        AclSpec(Right.ACCESS, "Module", description="Use the admin API and console at all"),
        AclSpec(Right.CONTEXTS_READ, "Contexts", description="See contexts"),
        AclSpec(Right.CONTEXTS_MANAGE, "Contexts", description="Create, change and move contexts"),
        AclSpec(Right.USERS_READ, "Users", description="See users and their memberships"),
        AclSpec(Right.USERS_MANAGE, "Users", description="Create and change users and memberships"),
        AclSpec(Right.USERS_LIFECYCLE, "Users", description="Activate, deactivate, delete users"),
        AclSpec(Right.USERS_TWO_FACTOR, "Users", description="Override a user's 2FA setting"),
        AclSpec(Right.DOMAINS_MANAGE, "Users", description="Create and change user domains"),
        AclSpec(Right.ACCESS_READ, "Access rights", description="See modules, templates, groups"),
        AclSpec(
            Right.ACCESS_MANAGE, "Access rights", description="Change modules, templates, groups"
        ),
        AclSpec(Right.CLIENTS_MANAGE, "Applications", description="Register and change clients"),
        AclSpec(Right.AUDIT_READ, "Audit", description="Read the audit log"),
        AclSpec(
            Right.API_IP_ALLOW,
            "API",
            AclType.TEXT,
            "CIDR ranges the API may be called from; 0.0.0.0/0 for anywhere",
        ),
    ],
)
