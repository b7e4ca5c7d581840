"""The second-factor stage of a login flow: what to offer, sending codes, checking an entry.

Every entry (code, authenticator app, recovery code) first takes one of the user's tries
(``OSTIARY_TWO_FACTOR_USER_TRIES`` per window, atomically); a right entry gives them back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.factors.codes import CodeService, Sent, Verdict
from ostiary.authn.factors.policy import Methods, amr_for, methods_of
from ostiary.authn.factors.recovery import RecoveryCodes
from ostiary.authn.factors.totp import TotpService
from ostiary.branding.resolution import Brand
from ostiary.db.session import OstiarySession
from ostiary.runtime import Runtime
from ostiary.users.models import User

CODE, TOTP, RECOVERY = "code", "totp", "recovery"


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    amr: list[str]

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK


class SecondFactorStage:
    def __init__(self, session: OstiarySession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime
        self.codes = CodeService(session, runtime)
        self.audit = AuditLog(session)

    def methods(self, user: User) -> Methods:
        return methods_of(self.session, user, self.runtime.settings)

    def send(
        self, user: User, flow_id: uuid.UUID, actor: Actor, brand: Brand | None = None
    ) -> Sent:
        """``brand``: the login's branding, which the messages carry."""
        channels = self.methods(user).channels
        return self.codes.send(user, flow_id, channels, actor, brand=brand)

    def check(
        self, user: User, flow_id: uuid.UUID, method: str, code: str, actor: Actor
    ) -> Outcome:
        methods = self.methods(user)
        if method == CODE:
            verdict = self.codes.verify(user, flow_id, code, actor)
            return Outcome(verdict, amr_for(CODE, channels=methods.channels))
        if method not in (TOTP, RECOVERY):
            return Outcome(Verdict.WRONG, [])
        if not self.codes.take_try(user):
            self._failed(user, actor, method, Verdict.LOCKED)
            return Outcome(Verdict.LOCKED, [])
        if method == TOTP:
            ok = methods.totp and TotpService(self.session, self.runtime).verify(user, code)
        else:
            ok = RecoveryCodes(self.session).use(user, code)
        if not ok:
            self._failed(user, actor, method, Verdict.WRONG)
            return Outcome(Verdict.WRONG, [])
        self.codes.passed(user)
        if method == RECOVERY:
            self.audit.record(
                actor,
                "second_factor.recovery_code_used",
                target_type="user",
                target_id=user.id,
                changes={"remaining": RecoveryCodes(self.session).remaining(user)},
            )
        return Outcome(Verdict.OK, amr_for(method))

    def _failed(self, user: User, actor: Actor, method: str, verdict: Verdict) -> None:
        self.audit.record(
            actor,
            "second_factor.failed",
            target_type="user",
            target_id=user.id,
            changes={"method": method, "reason": str(verdict)},
        )
