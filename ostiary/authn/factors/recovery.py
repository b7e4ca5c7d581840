"""One-time recovery codes: ten at a time, shown once, stored as SHA-256 (each carries 60
random bits, so a plain hash is enough), each usable once."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, func, select, update

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.factors.models import RecoveryCode
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.users.models import User

COUNT = 10
# Crockford's base32: no I, L, O or U to mistake.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
GROUPS, GROUP_LENGTH = 3, 4


def normalise(code: str) -> str:
    cleaned = "".join(ch for ch in code.lower() if ch.isalnum())
    return cleaned.replace("o", "0").replace("i", "1").replace("l", "1")


def _hash(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    return len(normalise(code)) == GROUPS * GROUP_LENGTH


class RecoveryCodes:
    def __init__(self, session: OstiarySession) -> None:
        self.session = session
        self.audit = AuditLog(session)

    def generate(self, user: User, actor: Actor) -> list[str]:
        """New codes for the user; the old ones stop working. Show them once: only their hashes
        are kept."""
        codes = [
            "-".join(
                "".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH))
                for _ in range(GROUPS)
            )
            for _ in range(COUNT)
        ]
        with self.session.atomic():
            self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
            for code in codes:
                self.session.add(RecoveryCode(user_id=user.id, code_hash=_hash(code)))
            self.audit.record(
                actor,
                "second_factor.recovery_codes_generated",
                target_type="user",
                target_id=user.id,
                changes={"count": COUNT},
            )
        return codes

    def use(self, user: User, code: str) -> bool:
        """Spend one code; True only the first time."""
        spent = self.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _hash(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return spent.rowcount == 1  # type: ignore[attr-defined]

    def remaining(self, user: User) -> int:
        return (
            self.session.scalar(
                select(func.count())
                .select_from(RecoveryCode)
                .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
            )
            or 0
        )

    def remove(self, user: User, actor: Actor) -> None:
        with self.session.atomic():
            self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
            self.audit.record(
                actor,
                "second_factor.recovery_codes_removed",
                target_type="user",
                target_id=user.id,
                changes={},
            )
