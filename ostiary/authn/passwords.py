"""Password hashing with argon2id, and the policy (``ostiary.authn.policy``) for new ones."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from ostiary.authn.policy import PasswordPolicy
from ostiary.errors import FieldProblem
from ostiary.settings import Settings

# How much lower the hashing threads' CPU priority is than the rest of the process (nice).
HASHING_NICENESS = 10


def _lower_priority() -> None:
    # On Linux a thread has a niceness of its own, and raising it needs no privilege; where
    # threads have none, hashes run at the process's priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


@functools.cache
def hashing_threads() -> ThreadPoolExecutor:
    """The process's hashing threads, one per CPU, made when the first hash is."""
    return ThreadPoolExecutor(
        max_workers=os.cpu_count() or 1,
        thread_name_prefix="ostiary-hashing",
        initializer=_lower_priority,
    )


# A child made by fork has none of its parent's threads: it makes hashing threads of its own.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=hashing_threads.cache_clear)


class Passwords:
    """Hashes and verifies passwords with argon2id, in threads of their own at a lower CPU
    priority than the rest of the process.

    argon2id is memory-hard: each hash walks its own ``argon2_memory_cost_kib`` of memory, so
    hashes running at once beyond the number of CPUs only take turns on them and push each
    other's memory out of the caches. So a process has one hashing thread per CPU, and the rest
    wait their turn. Their lower priority keeps a burst of logins from starving the thread that
    holds the interpreter, which everything else (the login's own statements, token and
    introspection requests) needs: the hashes take the CPU that it leaves.
    """

    def __init__(self, settings: Settings) -> None:
        self.min_length = settings.password_min_length
        self.policy = PasswordPolicy(settings.password_min_length)
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )

    def hash(self, password: str) -> str:
        return hashing_threads().submit(self._hasher.hash, password).result()

    def verify(self, password_hash: str | None, password: str) -> bool:
        if not password_hash:
            return False
        try:
            return hashing_threads().submit(self._hasher.verify, password_hash, password).result()
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
