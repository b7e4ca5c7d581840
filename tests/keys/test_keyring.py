"""The key ring: keys made at first start, stored encrypted, published, rotated, and used to
sign and verify tokens that only our own published keys and algorithms can pass."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey, RSAKey, import_key
from sqlalchemy import select, text

from ostiary.audit.models import AuditEvent
from ostiary.db.session import OstiarySession
from ostiary.db.types import utcnow
from ostiary.keys.crypto import KeyDecryptionError, SecretBox, decrypt_private_jwk
from ostiary.keys.models import SigningKey
from ostiary.keys.services import KeyRing, TokenRejected
from ostiary.runtime import Runtime

CLAIMS = {"iss": "http://testserver", "sub": "someone", "aud": "app", "exp": 4102444800}


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ring(runtime: Runtime, clock: Clock) -> KeyRing:
    return KeyRing(runtime.settings.effective_secret_key, clock=clock)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes = b"") -> str:
    head = b64(json.dumps(dict(header)).encode())
    body = b64(json.dumps(dict(claims)).encode())
    return f"{head}.{body}.{b64(signature)}"


def forge_hs256(header: Mapping[str, Any], secret: bytes) -> str:
    unsigned = forge(header, CLAIMS).rsplit(".", 1)[0]
    mac = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{b64(mac)}"


def header_of(token: str) -> dict[str, Any]:
    return dict(jws.extract_compact(token.encode()).headers())


def kids(ring: KeyRing, session: OstiarySession) -> set[str]:
    return {jwk["kid"] for jwk in ring.jwks(session)["keys"]}


def rows(session: OstiarySession, alg: str | None = None) -> list[SigningKey]:
    query = select(SigningKey).order_by(SigningKey.created_at)
    if alg is not None:
        query = query.where(SigningKey.alg == alg)
    return list(session.scalars(query))


# --- first start ----------------------------------------------------------------------------


def test_first_start_creates_one_key_per_algorithm(ring: KeyRing, session: OstiarySession) -> None:
    keys = rows(session)
    assert sorted(key.alg for key in keys) == ["ES256", "RS256"]
    for key in keys:
        assert key.retired_at is None and key.unpublish_at is None
        assert key.kid == import_key(key.public_jwk).thumbprint()  # RFC 7638
    rsa = next(key for key in keys if key.alg == "RS256")
    assert import_key(rsa.public_jwk).raw_value.key_size >= 2048  # type: ignore[union-attr]
    created = session.scalars(select(AuditEvent).where(AuditEvent.action == "keys.created")).all()
    assert {event.target_id for event in created} == {key.kid for key in keys}
    # A later start creates nothing more.
    assert ring.ensure(session) == []
    assert len(rows(session)) == 2


def test_jwks_lists_public_keys_only(ring: KeyRing, session: OstiarySession) -> None:
    published = ring.jwks(session)["keys"]
    assert {jwk["kid"] for jwk in published} == {key.kid for key in rows(session)}
    for jwk in published:
        assert jwk["use"] == "sig" and jwk["alg"] in {"ES256", "RS256"}
        assert not {"d", "p", "q", "dp", "dq", "qi", "oth", "k"} & jwk.keys()
        assert not import_key(jwk).is_private


def test_private_key_is_not_readable_in_the_database(
    runtime: Runtime, session: OstiarySession
) -> None:
    for alg in ("ES256", "RS256"):
        key = rows(session, alg)[0]
        raw = session.execute(
            text("SELECT * FROM signing_keys WHERE kid = :kid"), {"kid": key.kid}
        ).one()
        stored_row = " ".join(str(value) for value in raw)
        private = decrypt_private_jwk(
            SecretBox(runtime.settings.effective_secret_key), key.private_jwk_encrypted, kid=key.kid
        )
        assert private["d"] and private["d"] not in stored_row
        assert '"d"' not in stored_row and "'d'" not in stored_row
        wrong = SecretBox(b"not the secret")
        with pytest.raises(KeyDecryptionError):
            decrypt_private_jwk(wrong, key.private_jwk_encrypted, kid=key.kid)


def test_a_server_with_another_secret_cannot_sign(session: OstiarySession) -> None:
    with pytest.raises(KeyDecryptionError):
        KeyRing(b"not the secret").sign(session, CLAIMS, "ES256")


# --- signing and verifying --------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_sign_and_verify_round_trip(ring: KeyRing, session: OstiarySession, alg: str) -> None:
    token = ring.sign(session, CLAIMS, alg, "at+jwt")
    header = header_of(token)
    kid, _ = ring.signing_key(session, alg)
    assert header == {"alg": alg, "kid": kid, "typ": "at+jwt"}
    assert kid in kids(ring, session)
    assert ring.verify(session, token) == CLAIMS
    assert ring.verify(session, token, typ="at+jwt") == CLAIMS
    assert ring.verify(session, token, typ="application/AT+JWT") == CLAIMS
    # A relying party needs nothing but our JWKS to check it.
    published = next(jwk for jwk in ring.jwks(session)["keys"] if jwk["kid"] == kid)
    assert jwt.decode(token, import_key(published), algorithms=[alg]).claims == CLAIMS


def test_a_token_checked_again_gets_the_same_rules(ring: KeyRing, session: OstiarySession) -> None:
    """The second check of a token skips the signature, not the rules around it."""
    token = ring.sign(session, {**CLAIMS, "rights": {"a": True}}, "ES256", "at+jwt")
    first = ring.verify(session, token, typ="at+jwt")
    first["rights"]["a"] = False  # what a caller does with its copy stays there
    assert ring.verify(session, token, typ="at+jwt")["rights"] == {"a": True}
    with pytest.raises(TokenRejected):
        ring.verify(session, token, typ="JWT")
    with pytest.raises(TokenRejected):
        ring.verify(session, token, allowed_algs=("RS256",))
    with pytest.raises(TokenRejected):  # the same claims, another signature
        ring.verify(session, token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB"))


def test_typ_is_left_out_unless_given(ring: KeyRing, session: OstiarySession) -> None:
    token = ring.sign(session, CLAIMS, "ES256")
    assert "typ" not in header_of(token)
    with pytest.raises(TokenRejected):
        ring.verify(session, token, typ="at+jwt")


def test_an_id_token_is_not_an_access_token(ring: KeyRing, session: OstiarySession) -> None:
    token = ring.sign(session, CLAIMS, "ES256", "JWT")
    with pytest.raises(TokenRejected):
        ring.verify(session, token, typ="at+jwt")


def test_unsupported_signing_algorithm_is_refused(ring: KeyRing, session: OstiarySession) -> None:
    from ostiary.errors import InvalidInput

    with pytest.raises(InvalidInput):
        ring.sign(session, CLAIMS, "HS256")


# --- rotation -------------------------------------------------------------------------------


def test_rotation_publishes_first_and_signs_later(
    ring: KeyRing, session: OstiarySession, clock: Clock
) -> None:
    old_kid, _ = ring.signing_key(session, "ES256")
    rsa_kid, _ = ring.signing_key(session, "RS256")
    ahead, lifetime = timedelta(minutes=10), timedelta(minutes=30)
    (rotated,) = ring.rotate(session, alg="ES256", publish_ahead=ahead, max_token_lifetime=lifetime)
    assert rotated.alg == "ES256" and rotated.retired_kids == (old_kid,)
    assert rotated.active_from == clock.now + ahead
    assert rotated.unpublish_at == clock.now + ahead + lifetime

    # Published at once, but the old key keeps signing until publish_ahead has passed.
    assert {old_kid, rotated.kid, rsa_kid} == kids(ring, session)
    before = ring.sign(session, CLAIMS, "ES256")
    assert header_of(before)["kid"] == old_kid
    clock.advance(ahead - timedelta(seconds=1))
    assert ring.signing_key(session, "ES256")[0] == old_kid

    clock.advance(timedelta(seconds=1))
    after = ring.sign(session, CLAIMS, "ES256")
    assert header_of(after)["kid"] == rotated.kid
    assert ring.signing_key(session, "RS256")[0] == rsa_kid  # only ES256 was rotated
    # Retired, but tokens it signed still verify while they may be alive.
    assert old_kid in kids(ring, session)
    assert ring.verify(session, before) == CLAIMS

    clock.advance(lifetime - timedelta(seconds=1))
    assert old_kid in kids(ring, session)
    clock.advance(timedelta(seconds=1))
    assert kids(ring, session) == {rotated.kid, rsa_kid}
    with pytest.raises(TokenRejected):
        ring.verify(session, before)
    assert ring.verify(session, after) == CLAIMS


def test_rotation_is_audited_without_key_material(ring: KeyRing, session: OstiarySession) -> None:
    rotated = ring.rotate(
        session, publish_ahead=timedelta(minutes=5), max_token_lifetime=timedelta(hours=1)
    )
    assert sorted(key.alg for key in rotated) == ["ES256", "RS256"]
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "keys.rotated")).all()
    assert {event.target_id for event in events} == {key.kid for key in rotated}
    stored = {key.kid: key for key in rows(session)}
    for event in events:
        text_of_event = json.dumps(event.changes)
        assert stored[event.target_id].private_jwk_encrypted not in text_of_event
        assert '"d"' not in text_of_event
        assert event.changes["retired_kids"]


def test_rotating_twice_before_the_first_takes_over(
    ring: KeyRing, session: OstiarySession, clock: Clock
) -> None:
    """The key that never got to sign retires with the first one and is unpublished too."""
    old_kid, _ = ring.signing_key(session, "ES256")
    ahead, lifetime = timedelta(minutes=10), timedelta(minutes=30)
    first = ring.rotate(session, alg="ES256", publish_ahead=ahead, max_token_lifetime=lifetime)
    clock.advance(timedelta(minutes=1))
    second = ring.rotate(session, alg="ES256", publish_ahead=ahead, max_token_lifetime=lifetime)
    assert second[0].retired_kids == (first[0].kid,)
    clock.advance(ahead)
    assert ring.signing_key(session, "ES256")[0] == second[0].kid
    clock.advance(lifetime)
    assert old_kid not in kids(ring, session) and first[0].kid not in kids(ring, session)


def test_bad_rotation_arguments_are_refused(ring: KeyRing, session: OstiarySession) -> None:
    from ostiary.errors import InvalidInput

    hour = timedelta(hours=1)
    with pytest.raises(InvalidInput):
        ring.rotate(session, alg="HS256", publish_ahead=hour, max_token_lifetime=hour)
    with pytest.raises(InvalidInput):
        ring.rotate(session, publish_ahead=-hour, max_token_lifetime=hour)
    with pytest.raises(InvalidInput):
        ring.rotate(session, publish_ahead=hour, max_token_lifetime=timedelta(0))
    assert len(rows(session)) == 2


def test_another_process_sees_a_rotation_at_once(
    runtime: Runtime, ring: KeyRing, session: OstiarySession, clock: Clock
) -> None:
    """Caches follow the table: a ring that has cached keys picks up another's rotation."""
    other = KeyRing(runtime.settings.effective_secret_key, clock=clock)
    before = kids(other, session)
    old_token = other.sign(session, CLAIMS, "ES256")
    (rotated,) = ring.rotate(
        session, alg="ES256", publish_ahead=timedelta(0), max_token_lifetime=timedelta(hours=1)
    )
    assert kids(other, session) == before | {rotated.kid}
    assert header_of(other.sign(session, CLAIMS, "ES256"))["kid"] == rotated.kid
    assert ring.verify(session, old_token) == CLAIMS


# --- attacks --------------------------------------------------------------------------------


def test_alg_none_is_refused(ring: KeyRing, session: OstiarySession) -> None:
    kid, _ = ring.signing_key(session, "ES256")
    for alg in ("none", "None", "NONE"):
        with pytest.raises(TokenRejected, match="algorithm"):
            ring.verify(session, forge({"alg": alg, "kid": kid}, CLAIMS))
    with pytest.raises(TokenRejected):
        ring.verify(session, forge({"alg": "none", "kid": kid}, CLAIMS), allowed_algs=("none",))


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_hs256_with_our_public_key_as_secret_is_refused(
    ring: KeyRing, session: OstiarySession, alg: str
) -> None:
    kid, _ = ring.signing_key(session, alg)
    published = next(jwk for jwk in ring.jwks(session)["keys"] if jwk["kid"] == kid)
    public = import_key(published)
    secrets = [
        public.as_pem(private=False),
        json.dumps(published).encode(),
        json.dumps(published, separators=(",", ":")).encode(),
    ]
    for secret in secrets:
        for header in ({"alg": "HS256", "kid": kid}, {"alg": "HS256", "kid": kid, "typ": "JWT"}):
            with pytest.raises(TokenRejected, match="algorithm"):
                ring.verify(session, forge_hs256(header, secret))
        # Asking for HS256 explicitly does not let it in either.
        with pytest.raises(TokenRejected):
            token = forge_hs256({"alg": "HS256", "kid": kid}, secret)
            ring.verify(session, token, allowed_algs=("HS256", "ES256", "RS256"))


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_foreign_key_using_our_kid_is_refused(
    ring: KeyRing, session: OstiarySession, alg: str
) -> None:
    kid, _ = ring.signing_key(session, alg)
    foreign = ECKey.generate_key("P-256") if alg == "ES256" else RSAKey.generate_key(2048)
    token = jwt.encode({"alg": alg, "kid": kid}, CLAIMS, foreign, algorithms=[alg])
    with pytest.raises(TokenRejected, match="bad signature"):
        ring.verify(session, token)


def test_foreign_key_embedded_in_the_header_is_refused(
    ring: KeyRing, session: OstiarySession
) -> None:
    kid, _ = ring.signing_key(session, "ES256")
    foreign = ECKey.generate_key("P-256")
    header = {"alg": "ES256", "kid": kid, "jwk": foreign.as_dict(private=False)}
    token = jwt.encode(header, CLAIMS, foreign, algorithms=["ES256"])
    with pytest.raises(TokenRejected):
        ring.verify(session, token)


def test_unknown_or_missing_kid_is_refused(ring: KeyRing, session: OstiarySession) -> None:
    foreign = ECKey.generate_key("P-256")
    unknown = jwt.encode(
        {"alg": "ES256", "kid": foreign.thumbprint()}, CLAIMS, foreign, algorithms=["ES256"]
    )
    without = jwt.encode({"alg": "ES256"}, CLAIMS, foreign, algorithms=["ES256"])
    with pytest.raises(TokenRejected, match="unknown key"):
        ring.verify(session, unknown)
    with pytest.raises(TokenRejected, match="names no key"):
        ring.verify(session, without)


def test_key_of_another_algorithm_is_refused(ring: KeyRing, session: OstiarySession) -> None:
    """An RS256 kid with the header saying PS256 (same RSA key, other scheme) does not pass."""
    kid, key = ring.signing_key(session, "RS256")
    token = jwt.encode({"alg": "PS256", "kid": kid}, CLAIMS, key, algorithms=["PS256"])
    with pytest.raises(TokenRejected):
        ring.verify(session, token, allowed_algs=("PS256", "RS256", "ES256"))
    es_kid, _ = ring.signing_key(session, "ES256")
    mixed = ring.sign(session, CLAIMS, "RS256").split(".")
    relabelled = forge({"alg": "RS256", "kid": es_kid}, CLAIMS).split(".")[0]
    with pytest.raises(TokenRejected):
        ring.verify(session, ".".join([relabelled, mixed[1], mixed[2]]))


def test_only_the_allowed_algorithms_pass(ring: KeyRing, session: OstiarySession) -> None:
    token = ring.sign(session, CLAIMS, "ES256")
    with pytest.raises(TokenRejected):
        ring.verify(session, token, allowed_algs=("RS256",))


def test_tampered_payload_is_refused(ring: KeyRing, session: OstiarySession) -> None:
    head, _, signature = ring.sign(session, CLAIMS, "ES256").split(".")
    changed = b64(json.dumps({**CLAIMS, "sub": "admin"}).encode())
    with pytest.raises(TokenRejected, match="bad signature"):
        ring.verify(session, f"{head}.{changed}.{signature}")


@pytest.mark.parametrize(
    "token", ["", "garbage", "a.b", "a.b.c", "a.b.c.d.e", "é.é.é", "eyJhbGciOiJFUzI1NiJ9..x"]
)
def test_malformed_tokens_are_refused(ring: KeyRing, session: OstiarySession, token: str) -> None:
    with pytest.raises(TokenRejected):
        ring.verify(session, token)
