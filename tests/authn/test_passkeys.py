"""Passkey ceremonies against a software authenticator: registration, the second factor and
passwordless login, and the attacks: a spent or foreign challenge, a replayed answer, a counter
that went back, no user verification for passwordless, someone else's credential."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.authn.factors.models import Passkey
from ostiary.authn.factors.passkeys import (
    PASSWORDLESS,
    SECOND_FACTOR,
    PasskeyError,
    PasskeyService,
)
from ostiary.authn.flow import LoginState
from ostiary.authn.models import LoginFlow
from ostiary.authn.sessions import SessionService
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.protocols.oidc.authorization import AuthorizationRequest
from ostiary.runtime import Runtime
from ostiary.users.models import User
from tests.authn.soft_authenticator import SoftAuthenticator
from tests.protocols.oidc.conftest import make_world


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "https://login.example.com", "message_worker": False}


def _flow(session: OstiarySession) -> LoginFlow:
    state = LoginState(
        request=AuthorizationRequest(client_id="spa", redirect_uri="x", scope=["openid"])
    )
    flow = LoginFlow(
        csrf_token="c",
        state=state.model_dump(mode="json"),
        expires_at=utcnow() + timedelta(minutes=5),
    )
    session.add(flow)
    session.flush()
    return flow


@pytest.fixture
def enrolled(runtime: Runtime) -> Any:
    make_world(runtime)
    with runtime.sessions() as session, session.atomic():
        user = session.scalars(select(User).where(User.username == "jeremy")).one()
        browser, _ = SessionService(session, runtime.settings).start(
            user, amr=["pwd"], actor=Actor.system()
        )
        service = PasskeyService(session, runtime)
        assert (service.rp_id, service.origin) == ("login.example.com", "https://login.example.com")
        authenticator = SoftAuthenticator(service.rp_id, service.origin)
        ceremony = service.registration_options(user, browser.id)
        assert ceremony.options["authenticatorSelection"]["residentKey"] == "required"
        answer = authenticator.create(ceremony.options)
        service.register(user, browser.id, ceremony.challenge_id, answer, "Laptop", Actor.system())
        # The registration challenge is spent.
        with pytest.raises(PasskeyError):
            service.register(
                user, browser.id, ceremony.challenge_id, answer, "Again", Actor.system()
            )
        user_id = user.id
    return user_id, authenticator


def test_passwordless_needs_user_verification_and_a_growing_counter(
    runtime: Runtime, enrolled: Any
) -> None:
    user_id, authenticator = enrolled
    with runtime.sessions() as session, session.atomic():
        service = PasskeyService(session, runtime)
        flow = _flow(session)
        ceremony = service.authentication_options(PASSWORDLESS, flow_id=flow.id)
        assert ceremony.options["userVerification"] == "required"
        assert ceremony.options.get("allowCredentials", []) == []
        answer = authenticator.get(ceremony.options)
        proof = service.authenticate(PASSWORDLESS, ceremony.challenge_id, answer, flow_id=flow.id)
        assert proof.user.id == user_id and proof.user_verified
        # The same answer again: its challenge is spent.
        with pytest.raises(PasskeyError):
            service.authenticate(PASSWORDLESS, ceremony.challenge_id, answer, flow_id=flow.id)
        # Without user verification, no passwordless login.
        ceremony = service.authentication_options(PASSWORDLESS, flow_id=flow.id)
        with pytest.raises(PasskeyError, match="verification"):
            service.authenticate(
                PASSWORDLESS,
                ceremony.challenge_id,
                authenticator.get(ceremony.options, verified=False),
                flow_id=flow.id,
            )
        # A counter that did not grow (a cloned authenticator) is refused.
        authenticator.sign_count = 1
        ceremony = service.authentication_options(PASSWORDLESS, flow_id=flow.id)
        with pytest.raises(PasskeyError, match="sign count"):
            service.authenticate(
                PASSWORDLESS,
                ceremony.challenge_id,
                authenticator.get(ceremony.options, count=False),
                flow_id=flow.id,
            )
        stored = session.scalars(select(Passkey)).one()
        assert stored.sign_count == 1


def test_a_challenge_works_only_in_its_own_flow(runtime: Runtime, enrolled: Any) -> None:
    _user_id, authenticator = enrolled
    with runtime.sessions() as session, session.atomic():
        service = PasskeyService(session, runtime)
        mine, other = _flow(session), _flow(session)
        ceremony = service.authentication_options(PASSWORDLESS, flow_id=mine.id)
        answer = authenticator.get(ceremony.options)
        with pytest.raises(PasskeyError, match="challenge"):
            service.authenticate(PASSWORDLESS, ceremony.challenge_id, answer, flow_id=other.id)
        # Made for passwordless login, not for the second factor.
        with pytest.raises(PasskeyError, match="challenge"):
            service.authenticate(SECOND_FACTOR, ceremony.challenge_id, answer, flow_id=mine.id)


def test_as_second_factor_only_the_users_own_passkey(runtime: Runtime, enrolled: Any) -> None:
    user_id, authenticator = enrolled
    from ostiary.users.schemas import UserCreate
    from ostiary.users.services import UserService

    with runtime.sessions() as session, session.atomic():
        service = PasskeyService(session, runtime)
        user = session.get(User, user_id)
        assert user is not None
        other = UserService(session, Actor.system(), runtime.passwords).create(
            UserCreate(username="mallory", domain="CSP", status="active")  # type: ignore[arg-type]
        )
        flow = _flow(session)
        ceremony = service.authentication_options(SECOND_FACTOR, user=user, flow_id=flow.id)
        assert len(ceremony.options["allowCredentials"]) == 1
        proof = service.authenticate(
            SECOND_FACTOR,
            ceremony.challenge_id,
            authenticator.get(ceremony.options, verified=False),
            user=user,
            flow_id=flow.id,
        )
        assert proof.user.id == user_id and not proof.user_verified
        ceremony = service.authentication_options(SECOND_FACTOR, user=other, flow_id=flow.id)
        with pytest.raises(PasskeyError, match="someone else"):
            service.authenticate(
                SECOND_FACTOR,
                ceremony.challenge_id,
                authenticator.get(ceremony.options),
                user=other,
                flow_id=flow.id,
            )
