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
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, insert, select, update

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


@dataclass(frozen=True)
class OpenFlow:
    """A live login flow as its pages need it: the id they carry and their forms' CSRF token."""

    id: uuid.UUID
    csrf_token: str


_FLOWS: Any = LoginFlow.__table__
_NEW_FLOW = insert(_FLOWS)
_FIND_FLOW = select(
    _FLOWS.c.csrf_token, _FLOWS.c.state, _FLOWS.c.expires_at, _FLOWS.c.completed_at
).where(_FLOWS.c.id == bindparam("p_id"))
_SAVE_FLOW = (
    update(_FLOWS)
    .where(_FLOWS.c.id == bindparam("p_id"))
    .values(state=bindparam("p_state", type_=_FLOWS.c.state.type))
)
_FINISH_FLOW = _SAVE_FLOW.values(
    completed_at=bindparam("p_completed_at", type_=_FLOWS.c.completed_at.type)
)


class LoginFlows:
    """Login flows, read and written with prebuilt Core statements: every step of every login
    reads its flow and most write it, and the ORM's work costs several times the statement's."""

    def __init__(self, session: OstiarySession, lifetime: timedelta) -> None:
        self.session = session
        self.lifetime = lifetime

    def begin(self, state: LoginState) -> OpenFlow:
        flow = OpenFlow(uuid7(), secrets.token_urlsafe(24))
        self.session.connection().execute(
            _NEW_FLOW,
            {
                "id": flow.id,
                "csrf_token": flow.csrf_token,
                "state": state.model_dump(mode="json"),
                "expires_at": utcnow() + self.lifetime,
            },
        )
        return flow

    def find(self, flow_id: str | None) -> tuple[OpenFlow, LoginState] | None:
        """The live flow, or None when unknown, finished or expired."""
        try:
            key = uuid.UUID(flow_id or "")
        except ValueError:
            return None
        row = self.session.connection().execute(_FIND_FLOW, {"p_id": key}).first()
        if row is None or row.completed_at is not None or row.expires_at <= utcnow():
            return None
        return OpenFlow(key, row.csrf_token), LoginState.model_validate(row.state)

    def save(self, flow: OpenFlow, state: LoginState) -> None:
        values: dict[str, object] = {"p_id": flow.id, "p_state": state.model_dump(mode="json")}
        statement = _SAVE_FLOW
        if state.stage is Stage.DONE:
            statement = _FINISH_FLOW
            values["p_completed_at"] = utcnow()
        self.session.connection().execute(statement, values)

    @staticmethod
    def csrf_ok(flow: OpenFlow, token: str | None) -> bool:
        return token is not None and secrets.compare_digest(flow.csrf_token, token)
