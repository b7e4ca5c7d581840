"""A user's second factors as they and their administrators see and manage them."""

from __future__ import annotations

import uuid

from sqlalchemy import delete

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.factors.models import (
    Passkey,
    RecoveryCode,
    SecondFactorCode,
    TotpCredential,
)
from ostiary.authn.factors.passkeys import PasskeyService
from ostiary.authn.factors.policy import code_channels, effective_setting
from ostiary.authn.factors.recovery import RecoveryCodes
from ostiary.authn.factors.schemas import AuthenticatorAppOut, FactorsOut, PasskeyOut
from ostiary.authn.factors.totp import TotpService
from ostiary.db.session import OstiarySession
from ostiary.errors import RuleViolation
from ostiary.runtime import Runtime
from ostiary.text import Text
from ostiary.users.models import DomainKind, TwoFactor, User


def refuse_unless_local(user: User) -> None:
    if user.service_account:
        raise RuleViolation("a service account never signs in and has no second factor")
    if user.domain.kind != DomainKind.LOCAL:
        raise RuleViolation(
            Text(
                "users of the delegated domain {name} sign in at their identity provider, which asks for their second factor",
                name=user.domain.name,
            )
        )


class FactorService:
    def __init__(self, session: OstiarySession, runtime: Runtime, actor: Actor) -> None:
        self.session = session
        self.runtime = runtime
        self.actor = actor

    def overview(self, user: User) -> FactorsOut:
        totp = TotpService(self.session, self.runtime).confirmed(user)
        return FactorsOut(
            two_factor=TwoFactor(user.two_factor),
            effective=effective_setting(user, self.runtime.settings),
            code_channels=[str(c) for c in code_channels(user, self.runtime.settings)],
            authenticator_app=AuthenticatorAppOut(
                enrolled=totp is not None,
                confirmed_at=totp.confirmed_at if totp else None,
                last_used_at=totp.last_used_at if totp else None,
            ),
            recovery_codes_remaining=RecoveryCodes(self.session).remaining(user),
            passkeys=[
                PasskeyOut.model_validate(p)
                for p in PasskeyService(self.session, self.runtime).of(user)
            ],
        )

    def confirm_totp(self, user: User, code: str) -> list[str] | None:
        """Finish enrolment; the first method enrolled also gets recovery codes."""
        with self.session.atomic():
            if not TotpService(self.session, self.runtime).confirm(user, code, self.actor):
                raise RuleViolation("the code does not match the new authenticator", field="code")
            recovery = RecoveryCodes(self.session)
            if recovery.remaining(user) == 0:
                return recovery.generate(user, self.actor)
        return None

    def remove_passkey(self, user: User, passkey_id: uuid.UUID) -> bool:
        with self.session.atomic():
            return PasskeyService(self.session, self.runtime).remove(user, passkey_id, self.actor)

    def reset(self, user: User) -> None:
        """An administrator removes every method the user enrolled (a lost phone or key)."""
        with self.session.atomic():
            forget_factors(self.session, user.id)
            AuditLog(self.session).record(
                self.actor,
                "second_factor.reset",
                target_type="user",
                target_id=user.id,
                changes={},
            )


def forget_factors(session: OstiarySession, user_id: uuid.UUID) -> None:
    for model in (TotpCredential, RecoveryCode, Passkey, SecondFactorCode):
        session.execute(delete(model).where(model.user_id == user_id))
