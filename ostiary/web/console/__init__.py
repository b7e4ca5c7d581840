"""The admin console: server-rendered pages, signed in as an OAuth client of this server."""

from fastapi import APIRouter

from ostiary.web.console import (
    audit,
    branding,
    clients,
    contexts,
    contracts,
    groups,
    invitations,
    keys,
    message_templates,
    modules,
    policies,
    registrations,
    signin,
    templates,
    user_imports,
    users,
    webhooks,
)

router = APIRouter(include_in_schema=False)
# Before users: ``/console/users/{user_id}`` would take ``/console/users/import``.
router.include_router(user_imports.router)
for module in (
    signin,
    users,
    invitations,
    contexts,
    audit,
    registrations,
    contracts,
    modules,
    templates,
    groups,
    policies,
    clients,
    webhooks,
    message_templates,
    branding,
    keys,
):
    router.include_router(module.router)
