"""``/api/v1/me``: the signed-in user's own second factors (self-service).

Authenticated like the rest of the API (HTTP Basic, or a bearer token for the ``ostiary``
module), without any admin right. What changes a factor (or the e-mail address or phone number,
``ostiary.api.v1.me_profile``) needs a recent proof: HTTP Basic gives the password with the
request; a bearer token's browser session must have signed in (or confirmed it was the user
again) within ``OSTIARY_STEP_UP_MINUTES``, else the answer is 403 ``reauthentication-required``
and the application signs the user in again (``prompt=login``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from ostiary.api.v1.deps import CallerDep, RuntimeDep, SessionDep
from ostiary.authn.factors.passkeys import PasskeyService
from ostiary.authn.factors.recovery import RecoveryCodes
from ostiary.authn.factors.schemas import (
    CodeIn,
    FactorsOut,
    PasskeyOut,
    PasskeyRename,
    RecoveryCodesOut,
    TotpEnrolmentOut,
)
from ostiary.authn.factors.services import FactorService, refuse_unless_local
from ostiary.authn.factors.stepup import ReauthenticationRequired, fresh
from ostiary.authn.factors.totp import TotpService
from ostiary.authn.models import BrowserSession
from ostiary.authn.sessions import SessionService
from ostiary.errors import NotFound, RuleViolation
from ostiary.protocols.oidc.tokens import AccessTokens
from ostiary.users.models import User

router = APIRouter(prefix="/me", tags=["self-service"])


def _me(caller: CallerDep) -> User:
    user = caller.user
    refuse_unless_local(user)
    return user


Me = Annotated[User, Depends(_me)]


def require_recent_proof(request: Request, session: SessionDep, runtime: RuntimeDep) -> None:
    """A dependency of changes that need a recent sign-in (step-up)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return  # HTTP Basic: the password came with this very request.
    valid = AccessTokens(
        session,
        runtime.keys,
        SessionService(session, runtime.settings),
        runtime.settings.issuer.rstrip("/"),
    ).validate(token.strip())
    sid = valid.claims.get("sid") if valid is not None else None
    browser = None
    if isinstance(sid, str):
        try:
            browser = session.get(BrowserSession, uuid.UUID(sid))
        except ValueError:
            browser = None
    if browser is None or not fresh(browser, runtime.settings):
        raise ReauthenticationRequired(
            f"this change needs a sign-in within the last "
            f"{runtime.settings.step_up_minutes} minutes: sign in again (prompt=login)"
        )


def _recent_proof(me: Me, _: Annotated[None, Depends(require_recent_proof)]) -> User:
    return me


Fresh = Annotated[User, Depends(_recent_proof)]


@router.get("/second-factors", response_model=FactorsOut, summary="My second factors")
def overview(session: SessionDep, runtime: RuntimeDep, caller: CallerDep, me: Me) -> FactorsOut:
    return FactorService(session, runtime, caller.actor).overview(me)


@router.post(
    "/authenticator-app",
    response_model=TotpEnrolmentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Begin enrolling an authenticator app",
)
def begin_totp(session: SessionDep, runtime: RuntimeDep, me: Fresh) -> TotpEnrolmentOut:
    enrolment = TotpService(session, runtime).begin(me)
    return TotpEnrolmentOut(
        secret=enrolment.secret, otpauth_uri=enrolment.uri, qr_svg=enrolment.qr_svg
    )


@router.post(
    "/authenticator-app/confirm",
    response_model=RecoveryCodesOut | None,
    summary="Confirm the authenticator app with its first code",
)
def confirm_totp(
    data: CodeIn, session: SessionDep, runtime: RuntimeDep, caller: CallerDep, me: Fresh
) -> RecoveryCodesOut | None:
    codes = FactorService(session, runtime, caller.actor).confirm_totp(me, data.code)
    return RecoveryCodesOut(recovery_codes=codes) if codes else None


@router.delete(
    "/authenticator-app",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove the authenticator app",
)
def remove_totp(session: SessionDep, runtime: RuntimeDep, caller: CallerDep, me: Fresh) -> Response:
    if not TotpService(session, runtime).remove(me, caller.actor):
        raise NotFound("no authenticator app is enrolled")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/recovery-codes",
    response_model=RecoveryCodesOut,
    summary="New recovery codes (the old ones stop working)",
)
def new_recovery_codes(
    session: SessionDep, runtime: RuntimeDep, caller: CallerDep, me: Fresh
) -> RecoveryCodesOut:
    overview = FactorService(session, runtime, caller.actor).overview(me)
    if not overview.authenticator_app.enrolled and not overview.passkeys:
        raise RuleViolation("recovery codes stand in for an authenticator app or a passkey")
    return RecoveryCodesOut(recovery_codes=RecoveryCodes(session).generate(me, caller.actor))


@router.get("/passkeys", response_model=list[PasskeyOut], summary="My passkeys")
def passkeys(session: SessionDep, runtime: RuntimeDep, me: Me) -> list[PasskeyOut]:
    return [PasskeyOut.model_validate(p) for p in PasskeyService(session, runtime).of(me)]


@router.patch("/passkeys/{passkey_id}", response_model=PasskeyOut, summary="Rename a passkey")
def rename_passkey(
    passkey_id: uuid.UUID, data: PasskeyRename, session: SessionDep, runtime: RuntimeDep, me: Me
) -> PasskeyOut:
    with session.atomic():
        passkey = PasskeyService(session, runtime).rename(me, passkey_id, data.name)
        if passkey is None:
            raise NotFound(f"no passkey with id '{passkey_id}'")
    return PasskeyOut.model_validate(passkey)


@router.delete(
    "/passkeys/{passkey_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a passkey"
)
def remove_passkey(
    passkey_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, caller: CallerDep, me: Fresh
) -> Response:
    if not FactorService(session, runtime, caller.actor).remove_passkey(me, passkey_id):
        raise NotFound(f"no passkey with id '{passkey_id}'")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
