"""The console's own registration: a public OAuth client of this server (code with PKCE), made
at bootstrap like the other defaults and kept in step with the issuer."""

from __future__ import annotations

from ostiary.access.catalogue import OSTIARY_MODULE
from ostiary.access.modules import ModuleService
from ostiary.audit.actor import Actor
from ostiary.clients.models import BUILT_IN_CLIENTS, CONSOLE_CLIENT_ID, Client
from ostiary.clients.schemas import ClientSpec
from ostiary.clients.services import ClientService
from ostiary.db.session import OstiarySession
from ostiary.settings import Settings

CALLBACK_PATH = "/console/callback"
PLACEHOLDER = "https://console.invalid/callback"


def built_in(client: Client) -> bool:
    return client.client_id in BUILT_IN_CLIENTS


def callback_uri(settings: Settings) -> str:
    return f"{settings.issuer.rstrip('/')}{CALLBACK_PATH}"


def ensure_console_client(session: OstiarySession, settings: Settings, actor: Actor) -> Client:
    """Public, so no secret to keep anywhere: the code is bound to the browser by PKCE and the
    state cookie. No refresh tokens: the console lives as long as the browser session."""
    module = ModuleService(session, actor).find(OSTIARY_MODULE)
    spec = ClientSpec(
        client_id=CONSOLE_CLIENT_ID,
        name="Ostiary console",
        public=True,
        grant_types=["authorization_code"],
        redirect_uris=[PLACEHOLDER],
        scopes=["openid", "profile", "email"],
        module_id=module.id if module is not None else None,
    )
    # The console's address is the issuer's own, set by the operator: the rule that other
    # applications' web callbacks use https does not apply (a development issuer is http).
    spec = spec.model_copy(update={"redirect_uris": [callback_uri(settings)]})
    client, _ = ClientService(session, actor).put(spec)
    return client
