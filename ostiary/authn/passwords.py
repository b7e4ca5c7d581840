"""Password hashing with argon2id, and the policy (``ostiary.authn.policy``) for new ones."""

from __future__ import annotations

import os
import threading

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from ostiary.authn.policy import PasswordPolicy
from ostiary.errors import FieldProblem
from ostiary.settings import Settings


class Passwords:
    """Hashes and verifies passwords. argon2id is memory-hard: each hash walks its own
    ``argon2_memory_cost_kib`` of memory, so hashes running at once beyond the number of CPUs
    only take turns on them and push each other's memory out of the caches, which makes each one
    slower. So at most one hash per CPU runs at a time in a process; the rest wait their turn."""

    def __init__(self, settings: Settings) -> None:
        self._turns = threading.BoundedSemaphore(os.cpu_count() or 1)
        self.min_length = settings.password_min_length
        self.policy = PasswordPolicy(settings.password_min_length)
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )

    def hash(self, password: str) -> str:
        with self._turns:
            return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        if not password_hash:
            return False
        try:
            with self._turns:
                return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def problems(
        self,
        password: str,
        *,
        field: str,
        username: str | None = None,
        email: str | None = None,
    ) -> list[FieldProblem]:
        """What the policy finds wrong with ``password`` as a new password of this user."""
        return self.policy.problems(password, field=field, username=username, email=email)

    @staticmethod
    def is_argon2_hash(value: str) -> bool:
        return value.startswith("$argon2id$")
