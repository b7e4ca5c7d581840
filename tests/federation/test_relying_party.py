"""The relying party against an upstream over real HTTP: PKCE, state, client_secret_basic,
and every ID token it must refuse."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc.jwk import OctKey, RSAKey

from ostiary.federation.models import IdentityProvider
from ostiary.federation.relying_party import (
    FederationError,
    PendingFederation,
    RelyingParty,
    UpstreamCache,
    VerifiedIdentity,
)
from tests.federation.upstream import Upstream, unsigned, upstream

REDIRECT = "https://ostiary.example/login/federated/corp/callback"
SECRET = "s3cret:& of at least sixteen bytes"


@pytest.fixture
def up() -> Iterator[Upstream]:
    with upstream() as running:
        yield running


def relying_party(up: Upstream, cache: UpstreamCache | None = None) -> RelyingParty:
    provider = IdentityProvider(
        key="corp",
        issuer=up.issuer,
        client_id="ostiary",
        scopes=["openid", "email"],
        roles_claim="roles",
    )
    return RelyingParty(provider, SECRET, cache or UpstreamCache())


def started(rp: RelyingParty) -> tuple[dict[str, str], PendingFederation]:
    url, pending = rp.start(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}, pending


def test_a_valid_login_sends_pkce_and_basic_auth_and_yields_the_identity(up: Upstream) -> None:
    rp = relying_party(up)
    query, pending = started(rp)
    assert query["code_challenge_method"] == "S256" and query["state"] == pending.state
    digest = hashlib.sha256(pending.code_verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert query["nonce"] == pending.nonce and query["scope"] == "openid email"
    up.id_token = up.sign(up.claims(nonce=pending.nonce, roles=["buyer", "admin"]))

    identity = rp.finish(pending, pending.state, "the-code")

    assert identity.subject == "person-1" and identity.verified_email == "pat@corp.example"
    assert identity.roles("roles") == ["admin", "buyer"]
    sent = up.token_requests[-1]
    assert sent["form"]["code_verifier"] == pending.code_verifier
    assert sent["form"]["redirect_uri"] == REDIRECT and sent["form"]["code"] == "the-code"
    expected = base64.b64encode(b"ostiary:s3cret%3A%26+of+at+least+sixteen+bytes").decode()
    assert sent["authorization"] == f"Basic {expected}"


def test_discovery_is_read_once_and_kept(up: Upstream) -> None:
    cache = UpstreamCache()
    for _ in range(3):
        started(relying_party(up, cache))
    assert up.reads.count("/.well-known/openid-configuration") == 1


def test_a_wrong_or_missing_state_is_refused_before_any_code_exchange(up: Upstream) -> None:
    rp = relying_party(up)
    _, pending = started(rp)
    for state in ("forged", "", None):
        with pytest.raises(FederationError, match="state"):
            rp.finish(pending, state, "the-code")
    assert up.token_requests == []


def _refused(up: Upstream, token_of: Any, match: str) -> None:
    rp = relying_party(up)
    _, pending = started(rp)
    up.id_token = token_of(pending)
    with pytest.raises(FederationError, match=match):
        rp.finish(pending, pending.state, "the-code")


def test_tokens_with_a_wrong_nonce_audience_issuer_or_party_are_refused(up: Upstream) -> None:
    _refused(up, lambda p: up.sign(up.claims(nonce="other")), "nonce")
    _refused(up, lambda p: up.sign(up.claims()), "nonce")
    _refused(up, lambda p: up.sign(up.claims(nonce=p.nonce, aud="someone-else")), "aud")
    _refused(up, lambda p: up.sign(up.claims(nonce=p.nonce, iss="https://evil.example")), "iss")
    several = {"aud": ["ostiary", "other"], "azp": "other"}
    _refused(up, lambda p: up.sign(up.claims(nonce=p.nonce, **several)), "azp")
    _refused(up, lambda p: up.sign(up.claims(nonce=p.nonce, exp=1_000_000)), "exp")


def test_unsigned_hmac_and_foreign_key_tokens_are_refused(up: Upstream) -> None:
    _refused(up, lambda p: unsigned(up.claims(nonce=p.nonce)), "not valid")
    # HS256 keyed with the client secret, which the upstream advertises but Ostiary refuses.
    hmac = OctKey.import_key(SECRET)
    _refused(up, lambda p: up.sign(up.claims(nonce=p.nonce), alg="HS256", key=hmac), "not valid")
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    _refused(up, lambda p: up.sign(up.claims(nonce=p.nonce), key=stranger), "not valid")


def test_an_unverified_email_is_not_taken(up: Upstream) -> None:
    rp = relying_party(up)
    _, pending = started(rp)
    up.id_token = up.sign(up.claims(nonce=pending.nonce, email_verified=False))
    assert rp.finish(pending, pending.state, "c").verified_email is None


@pytest.mark.parametrize(
    ("value", "roles"),
    [
        ("sales", ["sales"]),
        (["sales", "sales", "admin"], ["admin", "sales"]),
        (["sales", 7, None, {"name": "admin"}, ["x"], ""], ["sales"]),
        (["a" * 201, "a" * 200], ["a" * 200]),
        ({"sales": True}, []),
        (42, []),
        ([f"role-{i:04}" for i in range(5000)], [f"role-{i:04}" for i in range(100)]),
    ],
)
def test_role_names_are_only_strings_a_group_could_have_and_not_too_many(
    value: Any, roles: list[str]
) -> None:
    identity = VerifiedIdentity("person-1", {"roles": value})
    assert identity.roles("roles") == roles
    assert identity.roles("groups") == [] and identity.roles(None) == []
