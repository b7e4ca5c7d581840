"""HTTP Basic authentication of API users.

Verifying an argon2 hash costs tens of milliseconds by design, which is too much for every
API call. A successful check is remembered for a short while under a keyed hash of the user,
their current password hash and the password given; changing the password, or a different
password, misses the cache.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict

from sqlalchemy import select

from ostiary.authn.passwords import Passwords
from ostiary.db.session import OstiarySession
from ostiary.errors import Unauthenticated
from ostiary.users.models import DomainKind, User, UserStatus

BAD_CREDENTIALS = "the username or password is wrong, or the account cannot sign in"


class VerifiedCredentials:
    def __init__(
        self, key: bytes, *, ttl_seconds: float = 300.0, max_entries: int = 10_000
    ) -> None:
        self._key = key
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def _digest(self, user: User, password: str) -> bytes:
        message = f"{user.id}\0{user.password_hash}\0{password}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def seen(self, user: User, password: str) -> bool:
        digest = self._digest(user, password)
        with self._lock:
            expires = self._entries.get(digest)
            if expires is None:
                return False
            if expires < time.monotonic():
                del self._entries[digest]
                return False
            return True

    def remember(self, user: User, password: str) -> None:
        digest = self._digest(user, password)
        with self._lock:
            self._entries[digest] = time.monotonic() + self._ttl
            self._entries.move_to_end(digest)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


class BasicAuthenticator:
    def __init__(self, passwords: Passwords, verified: VerifiedCredentials) -> None:
        self.passwords = passwords
        self.verified = verified
        # Verified against when the user does not exist, so that timing does not tell.
        self.decoy_hash = passwords.hash("decoy password for unknown users")

    def authenticate(self, session: OstiarySession, username: str, password: str) -> User:
        user = session.scalars(
            select(User).where(User.username == username.strip().lower())
        ).one_or_none()
        if user is None or not user.password_hash:
            self.passwords.verify(self.decoy_hash, password)
            raise Unauthenticated(BAD_CREDENTIALS)
        if not self.verified.seen(user, password):
            if not self.passwords.verify(user.password_hash, password):
                raise Unauthenticated(BAD_CREDENTIALS)
            self.verified.remember(user, password)
        if user.status != UserStatus.ACTIVE or user.domain.kind != DomainKind.LOCAL:
            raise Unauthenticated(BAD_CREDENTIALS)
        return user
