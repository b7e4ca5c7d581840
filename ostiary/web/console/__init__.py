"""The admin console: server-rendered pages, signed in as an OAuth client of this server."""

from fastapi import APIRouter

from ostiary.web.console import (
    audit,
    contexts,
    groups,
    invitations,
    modules,
    policies,
    signin,
    templates,
    users,
)

router = APIRouter(include_in_schema=False)
for module in (signin, users, invitations, contexts, audit, modules, templates, groups, policies):
    router.include_router(module.router)
