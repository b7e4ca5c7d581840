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
    USERS_DELETE = "users.delete"
    USERS_TWO_FACTOR = "users.two_factor"
    GROUPS_MANAGE = "groups.manage"
    POLICIES_MANAGE = "policies.manage"
    TEMPLATES_MANAGE = "templates.manage"
    MODULES_MANAGE = "modules.manage"
    DOMAINS_MANAGE = "domains.manage"
    CLIENTS_MANAGE = "clients.manage"
    MESSAGES_MANAGE = "messages.manage"
    BRANDING_MANAGE = "branding.manage"
    INVITATIONS_MANAGE = "invitations.manage"
    REGISTRATIONS_MANAGE = "registrations.manage"
    CONTRACTS_MANAGE = "contracts.manage"
    WEBHOOKS_MANAGE = "webhooks.manage"
    AUDIT_READ = "audit.read"
    AUTHZ_CHECK = "authz.check"
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
        AclSpec(Right.USERS_LIFECYCLE, "Users", description="Activate, deactivate, discard users"),
        AclSpec(Right.USERS_DELETE, "Users", description="Delete (anonymize) users"),
        AclSpec(Right.USERS_TWO_FACTOR, "Users", description="Override a user's 2FA setting"),
        AclSpec(Right.GROUPS_MANAGE, "Access rights", description="Groups, their rights, members"),
        AclSpec(Right.POLICIES_MANAGE, "Access rights", description="Access policies of contexts"),
        AclSpec(Right.TEMPLATES_MANAGE, "Access rights", description="ACL templates (at the root)"),
        AclSpec(
            Right.MODULES_MANAGE, "Access rights", description="Modules and ACLs (at the root)"
        ),
        AclSpec(Right.DOMAINS_MANAGE, "Users", description="User domains (at the root)"),
        AclSpec(Right.CLIENTS_MANAGE, "Applications", description="Register and change clients"),
        AclSpec(
            Right.MESSAGES_MANAGE,
            "Messages",
            description="Message templates and the outbox (instance-wide ones at the root)",
        ),
        AclSpec(
            Right.BRANDING_MANAGE,
            "Branding",
            description="Names, logos, colours and texts of sign-in pages and messages",
        ),
        AclSpec(
            Right.INVITATIONS_MANAGE,
            "Onboarding",
            description="Invite people into contexts, re-send and revoke invitations",
        ),
        AclSpec(
            Right.REGISTRATIONS_MANAGE,
            "Onboarding",
            description="Approve or reject registrations and requests to join",
        ),
        AclSpec(Right.CONTRACTS_MANAGE, "CRM", description="Contracts of accounts"),
        AclSpec(Right.WEBHOOKS_MANAGE, "CRM", description="Webhook subscriptions and deliveries"),
        AclSpec(Right.AUDIT_READ, "Audit", description="Read the audit log"),
        AclSpec(Right.AUTHZ_CHECK, "Authorization", description="Ask for decisions about others"),
        AclSpec(
            Right.API_IP_ALLOW,
            "API",
            AclType.TEXT,
            "CIDR ranges the API may be called from; 0.0.0.0/0 for anywhere",
        ),
    ],
)


@dataclass(frozen=True)
class TemplateSpec:
    key: str
    name: str
    context_types: list[str]
    rights: dict[str, dict[str, object]]


_ALL_BOOL = {acl.key: True for acl in OSTIARY.acls if acl.type is AclType.BOOL}
_ACCOUNT_ADMIN = {
    Right.ACCESS,
    Right.CONTEXTS_READ,
    Right.CONTEXTS_MANAGE,
    Right.USERS_READ,
    Right.USERS_MANAGE,
    Right.USERS_LIFECYCLE,
    Right.USERS_DELETE,
    Right.USERS_TWO_FACTOR,
    Right.GROUPS_MANAGE,
    Right.POLICIES_MANAGE,
    Right.BRANDING_MANAGE,
    Right.INVITATIONS_MANAGE,
    Right.REGISTRATIONS_MANAGE,
    Right.AUDIT_READ,
}
_ACCOUNT_USER = {Right.ACCESS, Right.CONTEXTS_READ, Right.USERS_READ}

DEFAULT_TEMPLATES = [
    TemplateSpec(
        "root-administrator", "Root administrator", ["root"], {OSTIARY_MODULE: dict(_ALL_BOOL)}
    ),
    TemplateSpec(
        "account-administrator",
        "Account administrator",
        ["account", "customer"],
        {OSTIARY_MODULE: {key: True for key in sorted(_ACCOUNT_ADMIN)}},
    ),
    TemplateSpec(
        "account-user",
        "Account user",
        ["account", "customer"],
        {OSTIARY_MODULE: {key: True for key in sorted(_ACCOUNT_USER)}},
    ),
]
