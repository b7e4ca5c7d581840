"""Login flows: a login attempt moves through stages, its typed state kept on the server.

Stages: ``password`` (who are you), ``context`` (where do you act, when the user belongs to
several contexts and the application needs one), then the flow completes and the authorization
request it was started for is answered. ``second-factor`` (ostiary.web.second_factor) comes
between password and context when the user must give one; the browser session starts only
after it.
"""

from __future__ import annotations

import enum
import secrets
import uuid
from datetime import timedelta

from pydantic import BaseModel

from ostiary.authn.models import LoginFlow
from ostiary.branding.resolution import BrandingChoice
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow, uuid7
from ostiary.federation.relying_party import PendingFederation
from ostiary.protocols.oidc.authorization import AuthorizationRequest


class Stage(enum.StrEnum):
    PASSWORD = "password"
    SECOND_FACTOR = "second-factor"
    CONTEXT = "context"
    DONE = "done"


class LoginState(BaseModel):
    stage: Stage = Stage.PASSWORD
    request: AuthorizationRequest
    user_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    context_id: uuid.UUID | None = None
    # Where a login for Ostiary's own pages (the account page) returns to, instead of answering
    # an authorization request.
    return_to: str | None = None
    # The second factor page's news about the last code: masked addresses by channel, and
    # whether the SMS was blocked by the number pattern or sending was throttled.
    code_sent_to: dict[str, str] = {}
    sms_blocked: bool = False
    send_throttled: bool = False
    # Channels without an address in the profile (or a way to send): nothing went there.
    code_unavailable: list[str] = []
    # The branding the pages show: chosen when the flow starts (the application's), or by the
    # e-mail domain typed at the password stage; kept for every stage after.
    branding: BrandingChoice | None = None
    # A redirect to an upstream identity provider awaiting its callback (ostiary.federation).
    federation: PendingFederation | None = None
    # The external role names of a federated login (step e1), for the browser session that
    # the login starts.
    external_roles: list[str] = []
    # The link of an invitation accepted through an upstream provider (ostiary.web.invitations).
    invitation_token: str | None = None


class LoginFlows:
    def __init__(self, session: OstiarySession, lifetime: timedelta) -> None:
        self.session = session
        self.lifetime = lifetime

    def begin(self, state: LoginState) -> LoginFlow:
        # Its id is known at once, so it is written with the rest of the transaction.
        flow = LoginFlow(
            id=uuid7(),
            csrf_token=secrets.token_urlsafe(24),
            state=state.model_dump(mode="json"),
            expires_at=utcnow() + self.lifetime,
        )
        self.session.add(flow)
        return flow

    def find(self, flow_id: str | None) -> tuple[LoginFlow, LoginState] | None:
        """The live flow, or None when unknown, finished or expired."""
        try:
            key = uuid.UUID(flow_id or "")
        except ValueError:
            return None
        flow = self.session.get(LoginFlow, key)
        if flow is None or flow.completed_at is not None or flow.expires_at <= utcnow():
            return None
        return flow, LoginState.model_validate(flow.state)

    def save(self, flow: LoginFlow, state: LoginState) -> None:
        flow.state = state.model_dump(mode="json")
        if state.stage is Stage.DONE:
            flow.completed_at = utcnow()

    @staticmethod
    def csrf_ok(flow: LoginFlow, token: str | None) -> bool:
        return token is not None and secrets.compare_digest(flow.csrf_token, token)
