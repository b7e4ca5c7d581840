"""The admin console: server-rendered pages, signed in as an OAuth client of this server."""

from fastapi import APIRouter

from ostiary.web.console import (
    audit,
    contexts,
    contracts,
    invitations,
    registrations,
    signin,
    users,
)

router = APIRouter(include_in_schema=False)
for module in (signin, users, invitations, contexts, audit, registrations, contracts):
    router.include_router(module.router)
