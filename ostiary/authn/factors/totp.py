"""Authenticator apps: TOTP (RFC 6238) with SHA-1, 6 digits and 30-second steps, the
parameters every app understands.

Codes are made with ``pyotp``; checking is ours: a code of the current step or one step either
side is accepted (RFC 6238 §5.2), and only for a step later than the last accepted one, so a
code, once used, never works again (replay), not even on another node at the same moment
(one conditional ``UPDATE``). The secret is encrypted at rest under the server's secret key.
Enrolment shows an ``otpauth://`` URI as an SVG QR code (``segno``) and ends with a first code.
"""

from __future__ import annotations

import hmac
import io
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, select, update

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.factors.models import TotpCredential
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.keys.crypto import SecretBox
from ostiary.runtime import Runtime
from ostiary.users.models import User

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1
_INFO = b"ostiary/totp-secrets/aes-256-gcm/v1"


def code_at(secret: str, step: int, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    """The code of time step ``step`` (RFC 6238: HOTP of T = floor(unix time / 30))."""
    import hashlib

    return pyotp.TOTP(secret, digits=digits, digest=getattr(hashlib, digest)).generate_otp(step)


def step_of(moment: float) -> int:
    return int(moment // STEP_SECONDS)


def matching_step(secret: str, code: str, moment: float, window: int = WINDOW) -> int | None:
    """The step within ``window`` of ``moment`` whose code is ``code``, else None."""
    entered = "".join(code.split())
    if len(entered) != DIGITS or not entered.isdigit():
        return None
    now = step_of(moment)
    found = None
    for step in range(now - window, now + window + 1):
        # Compare all, in constant time each, and do not stop early.
        if hmac.compare_digest(code_at(secret, step), entered) and found is None:
            found = step
    return found


def qr_svg(uri: str) -> str:
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True)
    return out.getvalue().decode()


@dataclass(frozen=True)
class Enrolment:
    credential_id: uuid.UUID
    secret: str
    uri: str
    qr_svg: str


class TotpService:
    def __init__(
        self,
        session: OstiarySession,
        runtime: Runtime,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.runtime = runtime
        self.box = SecretBox(runtime.settings.effective_secret_key, info=_INFO)
        self.clock = clock
        self.audit = AuditLog(session)

    def confirmed(self, user: User) -> TotpCredential | None:
        return self.session.scalars(
            select(TotpCredential).where(
                TotpCredential.user_id == user.id, TotpCredential.confirmed_at.is_not(None)
            )
        ).first()

    def pending(self, user: User) -> TotpCredential | None:
        return self.session.scalars(
            select(TotpCredential)
            .where(TotpCredential.user_id == user.id, TotpCredential.confirmed_at.is_(None))
            .order_by(TotpCredential.created_at.desc())
        ).first()

    def begin(self, user: User) -> Enrolment:
        """A new secret waiting for its first code; an earlier unfinished enrolment is dropped.
        A confirmed authenticator keeps working until the new one is confirmed."""
        with self.session.atomic():
            self.session.execute(
                delete(TotpCredential).where(
                    TotpCredential.user_id == user.id, TotpCredential.confirmed_at.is_(None)
                )
            )
            secret = pyotp.random_base32(32)
            credential = TotpCredential(user_id=user.id, secret="")
            self.session.add(credential)
            self.session.flush()
            credential.secret = self.box.encrypt(secret.encode(), context=str(credential.id))
        return self.enrolment(user, credential)

    def enrolment(self, user: User, credential: TotpCredential) -> Enrolment:
        secret = self._secret(credential)
        issuer = self.runtime.settings.webauthn_rp_name
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)
        return Enrolment(credential.id, secret, uri, qr_svg(uri))

    def confirm(self, user: User, code: str, actor: Actor) -> bool:
        """Finish the enrolment with the app's first code; the new app replaces an older one."""
        with self.session.atomic():
            credential = self.pending(user)
            if credential is None:
                return False
            step = matching_step(self._secret(credential), code, self.clock())
            if step is None:
                return False
            now = utcnow()
            self.session.execute(
                delete(TotpCredential).where(
                    TotpCredential.user_id == user.id,
                    TotpCredential.id != credential.id,
                )
            )
            credential.confirmed_at = now
            credential.last_step = step
            credential.last_used_at = now
            self.audit.record(
                actor,
                "second_factor.totp_enrolled",
                target_type="user",
                target_id=user.id,
                changes={"credential": str(credential.id)},
            )
        return True

    def verify(self, user: User, code: str) -> bool:
        """A code of the user's app, within the window and newer than the last one used."""
        credential = self.confirmed(user)
        if credential is None:
            return False
        step = matching_step(self._secret(credential), code, self.clock())
        if step is None:
            return False
        accepted = self.session.execute(
            update(TotpCredential)
            .where(
                TotpCredential.id == credential.id,
                (TotpCredential.last_step.is_(None)) | (TotpCredential.last_step < step),
            )
            .values(last_step=step, last_used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return accepted.rowcount == 1  # type: ignore[attr-defined]

    def remove(self, user: User, actor: Actor) -> bool:
        with self.session.atomic():
            removed = self.session.execute(
                delete(TotpCredential).where(TotpCredential.user_id == user.id)
            ).rowcount  # type: ignore[attr-defined]
            if removed:
                self.audit.record(
                    actor,
                    "second_factor.totp_removed",
                    target_type="user",
                    target_id=user.id,
                    changes={},
                )
        return bool(removed)

    def last_used(self, user: User) -> datetime | None:
        credential = self.confirmed(user)
        return credential.last_used_at if credential else None

    def _secret(self, credential: TotpCredential) -> str:
        return self.box.decrypt(credential.secret, context=str(credential.id)).decode()
