"""The ASGI application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ostiary import __version__
from ostiary.api import authzen, health, idempotency, problems
from ostiary.api.direct import Application
from ostiary.api.v1 import (
    audit,
    authz,
    branding,
    clients,
    contexts,
    contracts,
    domains,
    groups,
    identity_providers,
    invitations,
    me,
    me_password,
    me_profile,
    message_templates,
    messages,
    modules,
    registrations,
    templates,
    user_access,
    user_factors,
    user_imports,
    user_throttle,
    users,
    webhooks,
)
from ostiary.contracts.lifecycle import start_contract_worker
from ostiary.messages.outbox import start_worker
from ostiary.protocols.oidc import routes as oidc_routes
from ostiary.registrations.expiry import start_registration_worker
from ostiary.runtime import Runtime
from ostiary.settings import Settings
from ostiary.web import (
    account_applications,
    account_organizations,
    account_password,
    account_sessions,
    console,
    dev_outbox,
    federated,
    login,
    profile,
    reset,
    second_factor,
    security,
    setup,
)
from ostiary.web import branding as branding_pages
from ostiary.web import invitations as invitation_pages
from ostiary.web import registration as registration_pages
from ostiary.webhooks.worker import start_webhook_worker

API_PREFIX = "/api/v1"
STATIC = Path(__file__).parent / "web" / "static"


def create_app(runtime: Runtime | None = None) -> Application:
    owns_runtime = runtime is None
    runtime = runtime or Runtime.from_settings(Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The runtime the application serves now (``app.state``), which is the one it was made
        # with unless someone bound another.
        runtime: Runtime = app.state.runtime
        workers = [
            start_worker(runtime),
            start_webhook_worker(runtime),
            start_contract_worker(runtime),
            start_registration_worker(runtime),
        ]
        yield
        for worker in workers:
            if worker is not None:
                await asyncio.to_thread(worker.stop)
        if owns_runtime:
            runtime.close()

    app = Application(
        title="Ostiary admin API",
        version=__version__,
        description="Contexts, user domains, users and memberships, modules and their rights, "
        "templates, groups, policies, effective rights, authorization checks and the audit log. "
        "Authenticate with HTTP Basic as an API user; errors are application/problem+json.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    problems.install(app)
    # The account pages' forms: a page, not a problem document.
    app.add_exception_handler(security.FormExpired, security.form_expired_page)
    idempotency.install(app)
    app.serve_directly(oidc_routes.DIRECT)
    app.include_router(health.router)
    # Routes are matched in order, one regular expression each: the provider's endpoints and
    # the login pages, called most often, come before the many admin API routes, and among
    # these the authorization checks and user reads of policy enforcement points first.
    app.include_router(oidc_routes.router)
    app.include_router(login.router)
    app.include_router(federated.router)
    app.include_router(second_factor.router)
    app.include_router(reset.router)
    app.include_router(branding_pages.router)
    app.include_router(invitation_pages.router)
    app.include_router(registration_pages.router)
    routers = (
        authz,
        contexts,
        groups,
        domains,
        user_imports,
        users,
        user_access,
        user_throttle,
        user_factors,
        me,
        me_password,
        me_profile,
        modules,
        templates,
        clients,
        branding,
        invitations,
        registrations,
        message_templates,
        messages,
        webhooks,
        contracts,
        identity_providers,
        audit,
    )
    for module in routers:
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(authzen.router)
    app.include_router(setup.router)
    app.include_router(security.router)
    # Before the profile's routes: ``/account/{field}`` would take their paths.
    for page in (account_password, account_sessions, account_applications, account_organizations):
        app.include_router(page.router)
    app.include_router(profile.router)
    app.include_router(console.router)
    app.include_router(dev_outbox.router)
    # Vendored scripts of the sign-in and account pages (no CDN, no build step).
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
