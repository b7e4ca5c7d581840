"""Password hashing with argon2id and the password rules."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from ostiary.errors import FieldProblem
from ostiary.settings import Settings

MAX_PASSWORD_LENGTH = 1024


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self.min_length = settings.password_min_length
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        if not password_hash:
            return False
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def problems(
        self, password: str, *, field: str, username: str | None = None
    ) -> list[FieldProblem]:
        found: list[FieldProblem] = []
        if len(password) < self.min_length:
            found.append(FieldProblem(field, f"must be at least {self.min_length} characters long"))
        if len(password) > MAX_PASSWORD_LENGTH:
            found.append(
                FieldProblem(field, f"must be at most {MAX_PASSWORD_LENGTH} characters long")
            )
        if username and len(username) >= 3 and username.lower() in password.lower():
            found.append(FieldProblem(field, "must not contain the username"))
        return found

    @staticmethod
    def is_argon2_hash(value: str) -> bool:
        return value.startswith("$argon2id$")
