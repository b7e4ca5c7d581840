"""The admin console: server-rendered pages, signed in as an OAuth client of this server."""

from fastapi import APIRouter

from ostiary.web.console import (
    audit,
    branding,
    clients,
    contexts,
    invitations,
    keys,
    message_templates,
    signin,
    users,
    webhooks,
)

router = APIRouter(include_in_schema=False)
for module in (signin, users, invitations, contexts, audit):
    router.include_router(module.router)
for module in (clients, webhooks, message_templates, branding, keys):
    router.include_router(module.router)
