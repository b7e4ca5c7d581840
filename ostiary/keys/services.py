"""The key ring of the OpenID provider: keys made, rotated, published, used to sign and verify.

Life of a key (all instants are columns of ``signing_keys``, so the state at any time follows
from the rows and a clock; nothing has to run at the moment a key changes role):

- **published** at ``now`` when ``created_at <= now`` and (``unpublish_at`` is unset or
  ``now < unpublish_at``). Published keys are in the JWKS and are the only keys ``verify``
  accepts.
- **signing** at ``now`` when it is published, ``active_from <= now`` and (``retired_at`` is
  unset or ``now < retired_at``). If several keys of one algorithm qualify (only after a
  crash between steps or a hand edit), the one with the latest ``active_from`` signs
  (ties: latest ``created_at``, then the greatest ``kid``), so the choice is the same in every
  process.
- ``rotate`` at ``t`` with ``publish_ahead = p`` and ``max_token_lifetime = l`` adds a key with
  ``created_at = t`` (published at once) and ``active_from = t + p``, and schedules every
  older key of that algorithm that is not already retired by then: ``retired_at = t + p``
  and ``unpublish_at = t + p + l`` (never earlier than an ``unpublish_at`` set before). Until
  ``t + p`` the old key signs, so relying parties have ``p`` to refresh their JWKS cache before
  they see the new ``kid``; after ``t + p + l`` no token signed by the old key is still valid,
  so it leaves the JWKS.
- ``ensure`` adds a key that signs at once for each algorithm that has no signing key (the
  first start).

``kid`` is the RFC 7638 thumbprint (SHA-256) of the public key, so a ``kid`` names exactly one
key material everywhere, and decrypted keys can be cached by ``kid`` without going stale.

Caching (per ``KeyRing`` object, which is meant to live as long as the process):

- Each call reads the small metadata of every row (kid, alg and the four instants; a few rows
  for the life of a server) and compares it with what it read last. Equal: the parsed public
  keys and the JWKS are reused. Different (a rotation by ``ostiary keys rotate`` in another
  process, a hand edit): they are rebuilt. This is exact, unlike a TTL, which would let one
  worker refuse tokens from a key another worker already published, and it costs one tiny
  query, which signing and verifying need anyway to know which keys exist now.
- Decrypted private keys are kept by ``kid``. Since the ``kid`` is the thumbprint and is
  checked after decryption, an entry can only be dropped (key gone), never be wrong.
- Tokens whose signature checked out are remembered (the most recent ``VERIFIED_TOKENS``): the
  signature of a given token by the key its ``kid`` names never changes, so checking the same
  token again skips parsing and signature, but never the header rules or whether that key is
  published now.

The clock is a constructor argument (default: the real UTC clock) so tests move time forward
instead of sleeping.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Generic, TypeVar

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey, import_key
from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.db.changes import TABLE_TOPICS, Vouched
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.errors import FieldProblem, InvalidInput, Unauthenticated
from ostiary.keys.crypto import SecretBox, decrypt_private_jwk, encrypt_private_jwk
from ostiary.keys.models import SigningKey
from ostiary.keys.rfc7515 import sign_compact

ES256: Final = "ES256"
RS256: Final = "RS256"
SUPPORTED_ALGS: Final[tuple[str, ...]] = (ES256, RS256)
DEFAULT_ALG: Final = ES256
# 2048 bits: accepted by every relying party, and generated at each test's bootstrap in about
# 40 ms (3072 takes about four times as long). A new size applies from the next rotation.
RSA_KEY_BITS: Final = 2048
# Whitelist of what a published JWK may contain; whatever else a row holds is never served.
_PUBLIC_MEMBERS: Final[Mapping[str, tuple[str, ...]]] = {
    "EC": ("kty", "crv", "x", "y"),
    "RSA": ("kty", "n", "e"),
}
# Our tokens carry only these header parameters; anything else (jku, jwk, x5u, crit, b64, ...)
# means the token is not ours, and refusing it keeps key choice entirely on our side.
_ALLOWED_HEADER: Final = frozenset({"alg", "kid", "typ"})
# How many verified tokens a key ring remembers: a resource server asks about the same token for
# each call it gets, and checking a signature costs more than the rest of an introspection.
VERIFIED_TOKENS: Final = 2048
# A rotation's defaults (``ostiary keys rotate``, the console): relying parties have an hour to
# see the new key, and the old one outlives the longest access token a client may have (a day).
PUBLISH_AHEAD: Final = timedelta(hours=1)
MAX_TOKEN_LIFETIME: Final = timedelta(hours=24)
K = TypeVar("K")
V = TypeVar("V")


class _Recent(Generic[K, V]):
    """The ``size`` most recently used entries (a small thread-safe LRU map)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class TokenRejected(Unauthenticated):
    """A token that is not a valid signature by one of our published keys."""

    kind = "invalid-token"
    title = "Invalid token"


class KeyRingError(RuntimeError):
    """The stored keys cannot be used as they are (a server fault, not the caller's)."""


class NoSigningKey(KeyRingError):
    """No key signs for an algorithm now: the key ring was never ensured (``ostiary migrate``)."""


@dataclass(frozen=True)
class KeyState:
    """The non-secret facts of one stored key, read on every call to detect changes."""

    kid: str
    alg: str
    created_at: datetime
    active_from: datetime
    retired_at: datetime | None
    unpublish_at: datetime | None

    def published(self, now: datetime) -> bool:
        return self.created_at <= now and (self.unpublish_at is None or now < self.unpublish_at)

    def signing(self, now: datetime) -> bool:
        return (
            self.published(now)
            and self.active_from <= now
            and (self.retired_at is None or now < self.retired_at)
        )

    def order(self) -> tuple[datetime, datetime, str]:
        return (self.active_from, self.created_at, self.kid)

    def role(self, now: datetime, signers: Collection[str]) -> str:
        """``next`` (published, signs later), ``active`` (signs now; ``signers`` are the kids
        chosen to sign), ``retired`` (signs no more, still published while its tokens live) or
        ``unpublished`` (gone from the JWKS)."""
        if not self.published(now):
            return "unpublished"
        if self.kid in signers:
            return "active"
        if self.active_from > now:
            return "next"
        return "retired"


@dataclass(frozen=True)
class RotatedKey:
    """What one rotation did for one algorithm."""

    alg: str
    kid: str
    published_at: datetime
    active_from: datetime
    # The keys that stop signing at ``active_from`` and leave the JWKS at ``unpublish_at``.
    retired_kids: tuple[str, ...]
    unpublish_at: datetime | None


@dataclass
class _Snapshot:
    """What the rows said when last read, and what was derived from it."""

    states: tuple[KeyState, ...]
    public_jwks: Mapping[str, dict[str, Any]]
    public_keys: Mapping[str, Key]
    # The JWKS last built and the kids it holds: which keys are published changes with time
    # even when the rows do not, so the snapshot alone does not decide it.
    jwks: tuple[tuple[str, ...], list[dict[str, Any]]] | None = None


_EMPTY = _Snapshot(states=(), public_jwks={}, public_keys={})


def check_alg(alg: str) -> str:
    if alg not in SUPPORTED_ALGS:
        supported = ", ".join(SUPPORTED_ALGS)
        raise InvalidInput([FieldProblem("alg", f"must be one of {supported}, not {alg!r}")])
    return alg


def public_jwk(key: Key, *, kid: str, alg: str) -> dict[str, Any]:
    """Only the public members of ``key`` (whitelisted, not filtered out), with kid/alg/use."""
    material = key.as_dict(private=False)
    members = _PUBLIC_MEMBERS[str(material["kty"])]
    return {**{name: material[name] for name in members}, "kid": kid, "alg": alg, "use": "sig"}


def _generate(alg: str) -> Key:
    if alg == ES256:
        return ECKey.generate_key("P-256")
    return RSAKey.generate_key(RSA_KEY_BITS)


class KeyRing:
    """Signing keys for one server (one secret key). Keep one per process: it caches."""

    def __init__(self, secret_key: bytes, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._box = SecretBox(secret_key)
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot = _EMPTY
        self._private: dict[str, Key] = {}
        # Tokens whose signature checked out, with their header and claims (as JSON, so that
        # no caller can change what the next one gets).
        self._verified: _Recent[str, tuple[dict[str, Any], str]] = _Recent(VERIFIED_TOKENS)
        self._states = Vouched[str, tuple[KeyState, ...]](max_entries=1)

    # --- managing keys -------------------------------------------------------------------

    def ensure(self, session: OstiarySession, *, actor: Actor | None = None) -> list[str]:
        """Create a key that signs now for each algorithm without one; returns the new kids."""
        now = self._clock()
        created: list[str] = []
        with session.atomic():
            states = self._read_states(session)
            for alg in SUPPORTED_ALGS:
                if _signer(states, alg, now) is None:
                    row = self._create(session, alg, created_at=now, active_from=now)
                    self._audit(session, actor, "keys.created", row.kid, {"alg": alg})
                    created.append(row.kid)
        return created

    def rotate(
        self,
        session: OstiarySession,
        *,
        alg: str | None = None,
        publish_ahead: timedelta,
        max_token_lifetime: timedelta,
        actor: Actor | None = None,
    ) -> list[RotatedKey]:
        """A new key per algorithm (or for ``alg``), published now and signing from
        ``now + publish_ahead``; older keys retire then and stay published for
        ``max_token_lifetime`` more. One ``keys.rotated`` event per algorithm."""
        if publish_ahead < timedelta(0):
            raise InvalidInput([FieldProblem("publish_ahead", "must not be negative")])
        if max_token_lifetime <= timedelta(0):
            raise InvalidInput([FieldProblem("max_token_lifetime", "must be positive")])
        algs = SUPPORTED_ALGS if alg is None else (check_alg(alg),)
        now = self._clock()
        starts = now + publish_ahead
        with session.atomic():
            return [
                self._rotate_one(session, name, now, starts, max_token_lifetime, actor)
                for name in algs
            ]

    def _rotate_one(
        self,
        session: OstiarySession,
        alg: str,
        now: datetime,
        starts: datetime,
        max_token_lifetime: timedelta,
        actor: Actor | None,
    ) -> RotatedKey:
        older = session.scalars(select(SigningKey).where(SigningKey.alg == alg)).all()
        row = self._create(session, alg, created_at=now, active_from=starts)
        retired = [key for key in older if _retire(key, starts, starts + max_token_lifetime)]
        unpublish_at = max((key.unpublish_at for key in retired if key.unpublish_at), default=None)
        result = RotatedKey(
            alg=alg,
            kid=row.kid,
            published_at=now,
            active_from=starts,
            retired_kids=tuple(key.kid for key in retired),
            unpublish_at=unpublish_at,
        )
        changes = {
            "alg": alg,
            "active_from": starts.isoformat(),
            "retired_kids": list(result.retired_kids),
            "unpublish_at": unpublish_at.isoformat() if unpublish_at else None,
        }
        self._audit(session, actor, "keys.rotated", row.kid, changes)
        return result

    def _create(
        self, session: OstiarySession, alg: str, *, created_at: datetime, active_from: datetime
    ) -> SigningKey:
        key = _generate(alg)
        kid = key.thumbprint()
        row = SigningKey(
            kid=kid,
            alg=alg,
            private_jwk_encrypted=encrypt_private_jwk(
                self._box, key.as_dict(private=True), kid=kid
            ),
            public_jwk=public_jwk(key, kid=kid, alg=alg),
            created_at=created_at,
            active_from=active_from,
        )
        session.add(row)
        session.flush()
        return row

    @staticmethod
    def _audit(
        session: OstiarySession,
        actor: Actor | None,
        action: str,
        kid: str,
        changes: dict[str, Any],
    ) -> None:
        # Only public facts: kid, algorithm and instants; the key material is never logged.
        AuditLog(session).record(
            actor or Actor.system(),
            action,
            target_type="signing_key",
            target_id=kid,
            changes=changes,
        )

    def keys(self, session: OstiarySession) -> list[tuple[KeyState, str]]:
        """Every stored key with its role now (see ``KeyState.role``), newest first."""
        now = self._clock()
        states = self._read_states(session)
        signers = {
            state.kid for alg in SUPPORTED_ALGS if (state := _signer(states, alg, now)) is not None
        }
        ordered = sorted(states, key=KeyState.order, reverse=True)
        return [(state, state.role(now, signers)) for state in ordered]

    # --- publishing, signing, verifying ---------------------------------------------------

    def jwks(self, session: OstiarySession) -> dict[str, Any]:
        """The public JWK Set of every key published now, the newest first."""
        now = self._clock()
        snapshot = self._current(session)
        published = sorted(
            (state for state in snapshot.states if state.published(now)),
            key=KeyState.order,
            reverse=True,
        )
        kids = tuple(state.kid for state in published)
        cached = snapshot.jwks
        if cached is None or cached[0] != kids:
            cached = (kids, [snapshot.public_jwks[kid] for kid in kids])
            snapshot.jwks = cached
        # Copies, so that a caller changing the answer cannot change the cache.
        return {"keys": [dict(jwk) for jwk in cached[1]]}

    def signing_key(self, session: OstiarySession, alg: str = DEFAULT_ALG) -> tuple[str, Key]:
        """The kid and private key that sign for ``alg`` now (see the module docstring)."""
        check_alg(alg)
        state = _signer(self._current(session).states, alg, self._clock())
        if state is None:
            raise NoSigningKey(f"no {alg} key signs now; run `ostiary migrate` to create one")
        return state.kid, self._private_key(session, state.kid)

    def sign(
        self,
        session: OstiarySession,
        claims: Mapping[str, Any],
        alg: str = DEFAULT_ALG,
        typ: str | None = None,
    ) -> str:
        """A compact JWS of ``claims``; ``alg``, ``kid`` (and ``typ`` if given) in its header."""
        kid, key = self.signing_key(session, alg)
        return sign_compact(claims, alg=alg, kid=kid, key=key.private_key, typ=typ)

    def verify(
        self,
        session: OstiarySession,
        token: str,
        *,
        allowed_algs: Collection[str] = SUPPORTED_ALGS,
        typ: str | None = None,
    ) -> dict[str, Any]:
        """The claims of ``token`` if one of our published keys signed it with an allowed
        algorithm (and, if ``typ`` is given, its header names that type, RFC 8725 3.11).

        Only the signature is checked: ``exp``, ``iss``, ``aud`` and the like are the
        caller's, since each kind of token has its own rules (an expired ID token is still
        a fine ``id_token_hint``)."""
        verified = self._verified.get(token)
        header = verified[0] if verified is not None else _header(token)
        alg = header.get("alg")
        # The algorithm is ours to choose: "none", HS256 and anything not listed never pass,
        # whatever the token says, so a public key can never be used as an HMAC secret.
        if not isinstance(alg, str) or alg not in allowed_algs or alg not in SUPPORTED_ALGS:
            raise TokenRejected(f"algorithm {alg!r} is not accepted")
        if unknown := sorted(set(header) - _ALLOWED_HEADER):
            raise TokenRejected(f"unexpected header parameters: {', '.join(unknown)}")
        if typ is not None and not _same_type(header.get("typ"), typ):
            raise TokenRejected(f"token type must be {typ!r}")
        # Whether the key is published now is asked every time, cached signature or not.
        key = self._verification_key(session, header.get("kid"), alg)
        if verified is not None:
            return dict(json.loads(verified[1]))
        try:
            claims = dict(jwt.decode(token, key, algorithms=[alg]).claims)
        except (JoseError, ValueError):
            raise TokenRejected("bad signature or payload") from None
        self._verified.put(token, (header, json.dumps(claims)))
        return claims

    def _verification_key(self, session: OstiarySession, kid: object, alg: str) -> Key:
        if not isinstance(kid, str):
            raise TokenRejected("the token names no key (kid)")
        snapshot = self._current(session)
        now = self._clock()
        state = next((s for s in snapshot.states if s.kid == kid), None)
        if state is None or not state.published(now):
            raise TokenRejected("unknown key")
        # A key signs with one algorithm only: an RSA key never checks a "PS256" or HMAC token.
        if state.alg != alg:
            raise TokenRejected("the key does not sign with that algorithm")
        return snapshot.public_keys[kid]

    # --- cache ----------------------------------------------------------------------------

    def _read_states(self, session: OstiarySession) -> tuple[KeyState, ...]:
        # A prebuilt Core statement on the session's connection: this runs for every token
        # signed or checked, and the ORM's handling of a plain column select costs more than
        # the query itself. None at all while the change feed vouches for the last reading.
        feed = session.feed
        if feed is not None:
            kept = self._states.get(feed, _STATES_KEY)
            if kept is not None:
                return kept
        connection = session.connection()
        states = tuple(KeyState(*row) for row in connection.execute(_STATES))
        if feed is not None:
            self._states.keep(
                feed, connection, _STATES_KEY, states, (TABLE_TOPICS["signing_keys"],)
            )
        return states

    def _current(self, session: OstiarySession) -> _Snapshot:
        """The snapshot for the rows as they are now: the cached one if nothing changed."""
        states = self._read_states(session)
        snapshot = self._snapshot
        if snapshot.states == states:
            return snapshot
        rows = session.execute(
            select(SigningKey.kid, SigningKey.public_jwk).where(
                SigningKey.kid.in_([state.kid for state in states])
            )
        ).all()
        public = {kid: jwk for kid, jwk in rows}
        jwks = {kid: _clean_public(jwk) for kid, jwk in public.items()}
        snapshot = _Snapshot(
            states=states,
            public_jwks=jwks,
            public_keys={kid: _import_public(kid, jwk) for kid, jwk in jwks.items()},
        )
        with self._lock:
            self._snapshot = snapshot
            # Keys gone from the table are gone from memory too.
            for kid in set(self._private) - set(snapshot.public_keys):
                del self._private[kid]
        return snapshot

    def _private_key(self, session: OstiarySession, kid: str) -> Key:
        with self._lock:
            cached = self._private.get(kid)
        if cached is not None:
            return cached
        stored = session.scalars(
            select(SigningKey.private_jwk_encrypted).where(SigningKey.kid == kid)
        ).one()
        key = import_key(decrypt_private_jwk(self._box, stored, kid=kid))
        # The thumbprint ties the decrypted material to the kid and so to the published key.
        if key.thumbprint() != kid:
            raise KeyRingError(f"the stored private key of {kid} does not match its kid")
        with self._lock:
            self._private[kid] = key
        return key


_KEYS: Any = SigningKey.__table__
_STATES_KEY = "states"
_STATES = select(
    _KEYS.c.kid,
    _KEYS.c.alg,
    _KEYS.c.created_at,
    _KEYS.c.active_from,
    _KEYS.c.retired_at,
    _KEYS.c.unpublish_at,
).order_by(_KEYS.c.kid)


def _signer(states: Sequence[KeyState], alg: str, now: datetime) -> KeyState | None:
    candidates = [state for state in states if state.alg == alg and state.signing(now)]
    return max(candidates, key=KeyState.order, default=None)


def _retire(key: SigningKey, at: datetime, unpublish_at: datetime) -> bool:
    """Schedule ``key`` to stop signing at ``at``; False if it stops by then anyway."""
    if key.retired_at is not None and key.retired_at <= at:
        return False
    key.retired_at = at
    # Never shorten a publication a previous rotation promised (it may have had a longer
    # token lifetime in mind).
    if key.unpublish_at is None or key.unpublish_at < unpublish_at:
        key.unpublish_at = unpublish_at
    return True


def _clean_public(jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The stored public JWK reduced to the whitelist, so even a damaged row leaks nothing."""
    members = _PUBLIC_MEMBERS.get(str(jwk.get("kty")), ())
    return {
        **{name: jwk[name] for name in members if name in jwk},
        "kid": jwk["kid"],
        "alg": jwk["alg"],
        "use": "sig",
    }


def _import_public(kid: str, jwk: dict[str, Any]) -> Key:
    key = import_key(jwk)
    # A public key that is not the one its kid names would verify tokens of another key.
    if key.thumbprint() != kid:
        raise KeyRingError(f"the stored public key of {kid} does not match its kid")
    return key


def _header(token: str) -> dict[str, Any]:
    try:
        return dict(jws.extract_compact(token.encode("ascii")).headers())
    except (JoseError, ValueError, UnicodeError):
        raise TokenRejected("not a compact JWS") from None


def _same_type(actual: object, expected: str) -> bool:
    """Media types compare case-insensitively and may omit "application/" (RFC 7515 4.1.9)."""
    if not isinstance(actual, str):
        return False

    def bare(value: str) -> str:
        value = value.lower()
        return value.removeprefix("application/")

    return bare(actual) == bare(expected)
