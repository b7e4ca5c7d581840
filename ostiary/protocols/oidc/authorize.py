"""Answering an authorization request: sign in if needed, choose a context if needed, then
send the code back (RFC 6749 §4.1.2, RFC 9207 ``iss``, OAuth 2.0 Form Post Response Mode)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import select

from ostiary.authn.flow import LoginFlows, LoginState, Stage
from ostiary.authn.models import BrowserSession
from ostiary.branding.resolution import BrandingResolver
from ostiary.clients.models import Client
from ostiary.contexts.closed import open_only
from ostiary.contexts.models import Context
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.protocols.oidc.authorization import AuthorizationRequest
from ostiary.protocols.oidc.codes import issue_code
from ostiary.protocols.oidc.errors import OAuthError
from ostiary.runtime import Runtime
from ostiary.users.models import Membership, User


@dataclass(frozen=True)
class Respond:
    """Send the browser back to the client, by redirect or by auto-submitted form."""

    redirect_uri: str
    params: dict[str, str]
    form_post: bool = False

    @property
    def url(self) -> str:
        joiner = "&" if "?" in self.redirect_uri else "?"
        return f"{self.redirect_uri}{joiner}{urlencode(self.params)}"


@dataclass(frozen=True)
class ShowStage:
    flow_id: uuid.UUID
    stage: Stage


@dataclass(frozen=True)
class Suspended:
    """The login needs a context that is suspended: a page of ours says so, since the
    application could only tell the user that access was denied."""

    context_name: str


Outcome = Respond | ShowStage | Suspended


class AuthorizeService:
    def __init__(self, runtime: Runtime, session: OstiarySession) -> None:
        self.runtime = runtime
        self.session = session
        self.flows = LoginFlows(session, timedelta(minutes=runtime.settings.login_flow_minutes))
        self.issuer = runtime.settings.issuer.rstrip("/")

    def start(
        self, client: Client, request: AuthorizationRequest, browser: BrowserSession | None
    ) -> Outcome:
        too_old = (
            browser is not None
            and request.max_age is not None
            and (utcnow() - browser.auth_time) > timedelta(seconds=request.max_age)
        )
        if browser is None or "login" in request.prompt or too_old:
            if "none" in request.prompt:
                return self.error(
                    request, OAuthError("login_required", "the user is not signed in")
                )
            branding = BrandingResolver(self.session).at_login_start(client, request.login_hint)
            flow = self.flows.begin(LoginState(request=request, branding=branding))
            return ShowStage(flow.id, Stage.PASSWORD)
        state = LoginState(
            stage=Stage.CONTEXT, request=request, user_id=browser.user_id, session_id=browser.id
        )
        return self.advance(client, state, flow_id=None)

    def advance(
        self,
        client: Client,
        state: LoginState,
        *,
        flow_id: uuid.UUID | None,
        choices: list[Context] | None = None,
    ) -> Outcome:
        """Carry a signed-in user on: choose a context if one is needed, then answer.
        ``choices``: ``contexts_for`` the user, client and login's roles, when the caller has
        them."""
        request = state.request
        assert state.user_id is not None and state.session_id is not None
        user = self.session.get(User, state.user_id)
        assert user is not None
        if choices is None:
            choices = self.contexts_for(user, client, self.login_roles(state))
        chosen = state.context_id
        if request.context is not None and chosen is None:
            match = [c for c in choices if str(c.id) == request.context or c.key == request.context]
            if not match:
                closed = [
                    c
                    for c in self.suspended_for(user)
                    if str(c.id) == request.context or c.key == request.context
                ]
                if closed:
                    return self.suspended(request, closed[0])
                return self.error(
                    request, OAuthError("access_denied", "that context is not open to this user")
                )
            chosen = match[0].id
        if chosen is None and client.requires_context:
            if not choices:
                closed = self.closed_to(user, choices)
                if closed is not None:
                    return self.suspended(request, closed)
                return self.error(
                    request,
                    OAuthError(
                        "access_denied", "no context where this application is open to the user"
                    ),
                )
            if len(choices) == 1:
                chosen = choices[0].id
            elif "none" in request.prompt:
                return self.error(
                    request, OAuthError("interaction_required", "the user must choose a context")
                )
            else:
                state.stage = Stage.CONTEXT
                if flow_id is None:
                    flow_id = self.flows.begin(state).id
                return ShowStage(flow_id, Stage.CONTEXT)
        if chosen is None and len(choices) == 1:
            chosen = choices[0].id
        code = issue_code(
            self.session,
            client,
            request,
            user_id=user.id,
            session_id=state.session_id,
            context_id=chosen,
            lifetime=timedelta(seconds=self.runtime.settings.authorization_code_seconds),
        )
        params = {"code": code, "iss": self.issuer}
        if request.state is not None:
            params["state"] = request.state
        return Respond(request.redirect_uri, params, request.response_mode == "form_post")

    def login_roles(self, state: LoginState) -> list[str]:
        """The external role names of the browser session that the flow goes on with."""
        browser = self.session.get(BrowserSession, state.session_id) if state.session_id else None
        return browser.external_roles if browser is not None else []

    def contexts_for(
        self, user: User, client: Client, external_roles: Sequence[str] = ()
    ) -> list[Context]:
        """The user's contexts where the client's module is open to them (with the external
        role names of their login), in tree order; never a suspended one."""
        contexts = open_only(self.session.core(), self._memberships(user))
        if client.module_id is None:
            return contexts
        module = self.runtime.clients.module_key(self.session, client.module_id)
        if module is None:
            return contexts
        return [
            c
            for c in contexts
            if self.runtime.rights.effective(
                self.session, user, c, module, external_roles=external_roles
            ).access
        ]

    def suspended(self, request: AuthorizationRequest, context: Context) -> Outcome:
        """Our page saying so; to the client when the user may not be shown a page."""
        if "none" in request.prompt:
            return self.error(
                request, OAuthError("access_denied", f"access to {context.name} is suspended")
            )
        return Suspended(context.name)

    def closed_to(self, user: User, choices: Sequence[Context]) -> Context | None:
        """The suspended context that keeps ``user`` out, when none of ``choices`` (the
        contexts they could go on in) is left: the first of theirs that a suspension closes.
        None when they have a choice, or no suspension stands in their way."""
        if choices:
            return None
        closed = self.suspended_for(user)
        return closed[0] if closed else None

    def shut_out(self, user: User) -> Context | None:
        """``closed_to`` for our own pages (``/account``), which need no application: the user
        is kept out when every context of theirs is closed by a suspension."""
        return self.closed_to(user, open_only(self.session.core(), self._memberships(user)))

    def suspended_for(self, user: User) -> list[Context]:
        """The user's contexts that are closed by a suspension, in tree order."""
        contexts = self._memberships(user)
        open_ids = {c.id for c in open_only(self.session.core(), contexts)}
        return [c for c in contexts if c.id not in open_ids]

    def _memberships(self, user: User) -> list[Context]:
        return list(
            self.session.scalars(
                select(Context)
                .join(Membership, Membership.context_id == Context.id)
                .where(Membership.user_id == user.id)
                .order_by(Context.path)
            )
        )

    def error(self, request: AuthorizationRequest, error: OAuthError) -> Respond:
        params = {"error": error.error, "error_description": error.description, "iss": self.issuer}
        if request.state is not None:
            params["state"] = request.state
        return Respond(request.redirect_uri, params, request.response_mode == "form_post")
