"""Federated login pages: the redirect to an upstream provider and its callback.

The login flow's id travels to the callback in a cookie (SameSite=Lax, so it comes back on the
upstream's top-level redirect); ``state`` and ``nonce`` stay in the flow's typed state on the
server, and are used once.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ostiary.api.v1.deps import RuntimeDep, SessionDep
from ostiary.audit.actor import Actor
from ostiary.authn.flow import Stage
from ostiary.db.session import OstiarySession
from ostiary.errors import OstiaryError
from ostiary.federation.failures import record_failure
from ostiary.federation.models import IdentityProvider
from ostiary.federation.relying_party import FederationError, RelyingParty
from ostiary.federation.services import IdentityProviderService, ProviderButton
from ostiary.federation.signin import FederatedSignIn
from ostiary.protocols.oidc.authorize import AuthorizeService
from ostiary.protocols.oidc.errors import OAuthError
from ostiary.protocols.oidc.routes import NO_STORE, error_page
from ostiary.runtime import Runtime
from ostiary.web.second_factor import after_password

router = APIRouter(include_in_schema=False)
NOT_AVAILABLE = "the provider is unknown or disabled"
COOKIE = "ostiary_federation"
_PATH = "/login/federated"
EXPIRED = OAuthError(
    "login_expired",
    "This sign-in took too long or was already used. Start again from the application.",
)


# The reason is the operator's to read (ostiary.federation.failures), never the person's: it can
# quote the upstream and means nothing to them.
FAILED = OAuthError(
    "federated_login_failed",
    "The sign-in with your organisation failed. Please try again or contact your administrator.",
)


def _failed(
    request: Request,
    session: OstiarySession,
    key: str,
    provider: IdentityProvider | None,
    reason: str,
) -> Response:
    address = request.client.host if request.client else None
    record_failure(session, key, provider, reason, address)
    return error_page(request, FAILED)


def _providers(runtime: Runtime, session: SessionDep) -> IdentityProviderService:
    return IdentityProviderService(session, Actor("federation", "web"), runtime.settings)


def providers_for_page(runtime: Runtime, session: SessionDep) -> list[IdentityProvider]:
    """The enabled providers, one "Continue with" button each."""
    return list(_providers(runtime, session).list(enabled_only=True))


def buttons_for_page(runtime: Runtime, session: SessionDep) -> tuple[ProviderButton, ...]:
    """``providers_for_page`` as the login page shows them, read only when one changed."""
    return _providers(runtime, session).buttons()


def providers_for_email(
    runtime: Runtime, session: SessionDep, identifier: str
) -> IdentityProvider | None:
    return _providers(runtime, session).for_email(identifier) if "@" in identifier else None


def callback_uri(runtime: Runtime, key: str) -> str:
    return f"{runtime.settings.issuer.rstrip('/')}{_PATH}/{key}/callback"


def relying_party(
    runtime: Runtime, providers: IdentityProviderService, key: str
) -> RelyingParty | None:
    provider = providers.find(key)
    if provider is None or not provider.enabled:
        return None
    return RelyingParty(provider, providers.secrets.open(provider), runtime.upstreams)


def redirect_upstream(
    request: Request,
    runtime: Runtime,
    session: SessionDep,
    flow_id: str,
    provider: IdentityProvider,
) -> Response:
    """Send the browser of this login flow to ``provider``."""
    flows = AuthorizeService(runtime, session).flows
    found = flows.find(flow_id)
    if found is None or found[1].stage is not Stage.PASSWORD:
        return error_page(request, EXPIRED)
    rp = relying_party(runtime, _providers(runtime, session), provider.key)
    if rp is None:
        return _failed(request, session, provider.key, provider, NOT_AVAILABLE)
    login_flow, state = found
    try:
        url, pending = rp.start(callback_uri(runtime, provider.key))
    except FederationError as exc:
        return _failed(request, session, provider.key, provider, str(exc))
    state.federation = pending
    with session.atomic():
        flows.save(login_flow, state)
    response = RedirectResponse(url, status_code=303, headers=NO_STORE)
    response.set_cookie(
        COOKIE,
        str(login_flow.id),
        path=_PATH,
        httponly=True,
        samesite="lax",
        secure=runtime.settings.issuer.startswith("https://"),
        max_age=runtime.settings.login_flow_minutes * 60,
    )
    return response


@router.get("/login/federated/{key}")
def start(
    request: Request, runtime: RuntimeDep, session: SessionDep, key: str, flow: str = ""
) -> Response:
    provider = _providers(runtime, session).find(key)
    if provider is None or not provider.enabled:
        return _failed(request, session, key, provider, NOT_AVAILABLE)
    return redirect_upstream(request, runtime, session, flow, provider)


@router.get("/login/federated/{key}/callback")
def callback(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    key: str,
    state: str | None = None,
    code: str | None = None,
) -> Response:
    flows = AuthorizeService(runtime, session).flows
    found = flows.find(request.cookies.get(COOKIE))
    if found is None or found[1].stage is not Stage.PASSWORD or found[1].federation is None:
        return error_page(request, EXPIRED)
    login_flow, flow_state = found
    pending = flow_state.federation
    # Used once, whatever comes of it: a replayed callback finds nothing to finish.
    flow_state.federation = None
    with session.atomic():
        flows.save(login_flow, flow_state)
    providers = _providers(runtime, session)
    rp = relying_party(runtime, providers, key)
    if rp is None:
        return _failed(request, session, key, providers.find(key), NOT_AVAILABLE)
    try:
        identity = rp.finish(pending, state, code)
    except FederationError as exc:
        return _failed(request, session, key, rp.provider, str(exc))
    if flow_state.invitation_token is not None:
        from ostiary.web.invitations import accept_federated  # it imports this module

        response = accept_federated(request, runtime, session, flow_state, rp.provider, identity)
        response.delete_cookie(COOKIE, path=_PATH)
        return response
    address = request.client.host if request.client else None
    signin = FederatedSignIn(session, runtime.passwords, address)
    try:
        with session.atomic():
            user = signin.user_for(rp.provider, identity)
            if user is None:
                reason = f"the account linked to subject {identity.subject!r} cannot sign in"
                return _failed(request, session, key, rp.provider, reason)
            flow_state.external_roles = identity.roles(rp.provider.roles_claim)
            response = after_password(request, runtime, session, login_flow, flow_state, user)
    except OstiaryError as exc:
        return _failed(request, session, key, rp.provider, exc.detail)
    response.delete_cookie(COOKIE, path=_PATH)
    return response
