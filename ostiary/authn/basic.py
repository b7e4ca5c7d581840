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
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import bindparam, select, update

from ostiary.access import epochs
from ostiary.access.epochs import EpochMirror
from ostiary.access.models import RightsEpoch
from ostiary.access.subjects import UserRef
from ostiary.audit.actor import Actor
from ostiary.authn.passwords import Passwords
from ostiary.authn.throttle import PASSWORD, Attempt, Throttle, account_key, address_key
from ostiary.db.changes import Vouched
from ostiary.db.session import OstiarySession
from ostiary.errors import Unauthenticated
from ostiary.settings import Settings
from ostiary.users.models import DomainKind, User, UserDomain, UserStatus

BAD_CREDENTIALS = "the username or password is wrong, or the account cannot sign in"


K = TypeVar("K")
V = TypeVar("V")


class _Bounded(Generic[K, V]):
    """A map that forgets its least recently written entries beyond ``max_entries``."""

    def __init__(self, *, max_entries: int) -> None:
        self._max = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._entries.get(key)

    def __setitem__(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


class VerifiedCredentials:
    def __init__(
        self, key: bytes, *, ttl_seconds: float = 300.0, max_entries: int = 10_000
    ) -> None:
        self._key = key
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def _digest(self, user_id: uuid.UUID, password_hash: str, password: str) -> bytes:
        message = f"{user_id}\0{password_hash}\0{password}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def seen(self, user_id: uuid.UUID, password_hash: str, password: str) -> bool:
        digest = self._digest(user_id, password_hash, password)
        with self._lock:
            expires = self._entries.get(digest)
            if expires is None:
                return False
            if expires < time.monotonic():
                del self._entries[digest]
                return False
            return True

    def remember(self, user_id: uuid.UUID, password_hash: str, password: str) -> None:
        digest = self._digest(user_id, password_hash, password)
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
        self._known_ids = _Bounded[str, uuid.UUID](max_entries=10_000)
        # Credentials as read by sessions that wrote nothing, with the stamp of their reading (see
        # ``ostiary.db.changes``); never consulted without the feed's word that they stand.
        self._credentials = Vouched[str, StoredCredentials](max_entries=10_000)

    def authenticate(self, session: OstiarySession, username: str, password: str) -> UserRef:
        return self.verify(self.lookup(session, username), password)

    # The steps of ``authenticate``, for callers that keep the slow one off the event loop.

    def lookup(self, session: OstiarySession, username: str) -> StoredCredentials | None:
        """One indexed statement."""
        return self.lookup_watching(session, username, ())[0]

    def lookup_watching(
        self, session: OstiarySession, username: str, scopes: Sequence[str]
    ) -> tuple[StoredCredentials | None, tuple[int, ...]]:
        """``lookup``, and in the same statement the rights counters of ``scopes`` (0 for one
        never raised; see ``ostiary.access.epochs``): what a cached standing of the user
        depends on, so that a warm sign-in is one round trip."""
        name = username.strip().lower()
        mirror = session.mirror
        if mirror is not None:
            kept = self._kept(mirror, name, scopes)
            if kept is not None:
                return kept
        db = session.core()
        rows = db.execute(_CREDENTIALS, {"username": name, "scopes": list(scopes)})
        found: StoredCredentials | None = None
        by_scope: dict[str, int] = {}
        for *credentials, scope, epoch in rows:
            found = StoredCredentials(*credentials)
            if scope is not None:
                by_scope[scope] = epoch
        counters = tuple(by_scope.get(scope, 0) for scope in scopes)
        if found is not None:
            self._known_ids[name] = found.id
            if mirror is not None:
                mirror.keep(mirror.feed.stamp_of(db), scopes, counters)
                topics = (epochs.user_scope(found.id), epochs.GLOBAL)
                self._credentials.keep(mirror.feed, db, name, found, topics)
        return found, counters

    def _kept(
        self, mirror: EpochMirror, name: str, scopes: Sequence[str]
    ) -> tuple[StoredCredentials, tuple[int, ...]] | None:
        """What ``lookup_watching`` would read, if this process read it lately and the change
        feed says that nothing it depends on changed since: the user's row (their counter),
        their domain's kind (the global one) and the counters themselves."""
        found = self._credentials.get(mirror.feed, name)
        counters = mirror.known(scopes) if found is not None else None
        return None if found is None or counters is None else (found, counters)

    def known_id(self, username: str) -> uuid.UUID | None:
        """The id that ``username`` named at its last lookup in this process, if any: a
        guess for what to read with the next one (``lookup_watching``), checked by it."""
        return self._known_ids.get(username.strip().lower())

    def remembered(self, found: StoredCredentials | None, password: str) -> UserRef | None:
        """The user, when this password was verified for them lately; no argon2 needed."""
        if found is None or not found.password_hash:
            return None
        if not self.verified.seen(found.id, found.password_hash, password):
            return None
        return self._admit(found)

    def verify(self, found: StoredCredentials | None, password: str) -> UserRef:
        """Verify ``password`` with argon2 (tens of milliseconds by design)."""
        if found is None or not found.password_hash:
            self.passwords.verify(self.decoy_hash, password)
            raise Unauthenticated(BAD_CREDENTIALS)
        if not self.verified.seen(found.id, found.password_hash, password):
            if not self.passwords.verify(found.password_hash, password):
                raise Unauthenticated(BAD_CREDENTIALS)
            self.verified.remember(found.id, found.password_hash, password)
        return self._admit(found)

    def verify_counted(
        self,
        session: OstiarySession,
        settings: Settings,
        found: StoredCredentials | None,
        username: str,
        password: str,
        address: str | None,
    ) -> UserRef:
        """``verify``, throttled per account and client address (``ostiary.authn.throttle``):
        refused unverified while either must wait, failures counted. A hash made with older
        parameters than the configured ones is replaced.

        A sign-in of an account without failures lately writes nothing (so that API reads go
        on on SQLite while another worker holds the write lock); once an account has a streak,
        each attempt is counted before it is verified, so that parallel guesses beyond the
        threshold are refused unverified.
        """
        throttle = Throttle(session, settings)
        account = account_key(found.id) if found else throttle.name_key(username)
        address_counted = address_key(address)
        keys = [account] + ([address_counted] if address_counted else [])
        verdicts = [throttle.check(PASSWORD, key) for key in keys]
        label = found.username if found else "(unknown user)"
        actor = Actor(label, "api", client_address=address)
        attempt: Attempt | None = None
        if verdicts[0].failures or any(v.refused for v in verdicts):
            # The writes come first in a transaction of their own (on SQLite a session that
            # only read may then write too), committed before argon2 runs.
            session.commit()
            attempt = Attempt(throttle, PASSWORD, account, address_counted, actor)
            attempt.begin()  # raises Throttled, counted, while either must wait
        try:
            identity = self.verify(found, password)
        except Unauthenticated:
            if attempt is not None:
                attempt.failed()
            else:
                session.commit()
                for key in keys:
                    throttle.failed(PASSWORD, key, actor=actor)
            raise
        if attempt is not None:
            attempt.succeeded()
        assert found is not None and found.password_hash is not None
        if self.passwords.needs_rehash(found.password_hash):
            session.commit()
            with session.atomic():
                rehash(session, found.id, found.password_hash, self.passwords.hash(password))
        return identity

    @staticmethod
    def _admit(found: StoredCredentials) -> UserRef:
        if (
            found.status != UserStatus.ACTIVE
            or found.kind != DomainKind.LOCAL
            or found.service_account
        ):
            raise Unauthenticated(BAD_CREDENTIALS)
        return UserRef(found.id, found.username, found.status, delegated=False)


@dataclass(frozen=True)
class StoredCredentials:
    id: uuid.UUID
    username: str
    status: str
    password_hash: str | None
    service_account: bool
    kind: str


# What a sign-in needs, in one statement; read on every call so that a deactivation, a new
# password or a renaming takes effect at once.
_CREDENTIALS = (
    select(
        User.id,
        User.username,
        User.status,
        User.password_hash,
        User.service_account,
        UserDomain.kind,
        RightsEpoch.scope,
        RightsEpoch.epoch,
    )
    .join(UserDomain, UserDomain.id == User.domain_id)
    .outerjoin(RightsEpoch, RightsEpoch.scope.in_(bindparam("scopes", expanding=True)))
    .where(User.username == bindparam("username"))
)


def rehash(session: OstiarySession, user_id: uuid.UUID, old_hash: str, new_hash: str) -> bool:
    """Store a new hash of the same password, unless the password changed meanwhile. The
    security stamp stays: the password is the same, so sessions and tokens stay valid."""
    result = session.execute(
        update(User)
        .where(User.id == user_id, User.password_hash == old_hash)
        .values(password_hash=new_hash)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
