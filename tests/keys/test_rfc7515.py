"""Compact JWS as the key ring signs it, checked by an independent implementation (joserfc)."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from ostiary.keys.rfc7515 import sign_compact


def _part(token: str, index: int) -> bytes:
    part = token.split(".")[index]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.mark.parametrize(
    ("alg", "key", "signature_bytes"),
    [
        ("ES256", ECKey.generate_key("P-256"), 64),
        ("RS256", RSAKey.generate_key(2048), 256),
    ],
)
def test_tokens_verify_elsewhere(alg: str, key: ECKey | RSAKey, signature_bytes: int) -> None:
    claims = {"sub": "jeremy", "name": "Jérémy", "n": 3, "rights": {"a": True}}
    token = sign_compact(claims, alg=alg, kid="k1", key=key.private_key, typ="at+jwt")
    decoded = jwt.decode(token, key, algorithms=[alg])
    assert decoded.claims == claims
    assert decoded.header == {"alg": alg, "kid": "k1", "typ": "at+jwt"}
    assert len(_part(token, 2)) == signature_bytes
    assert json.loads(_part(token, 0)) == {"alg": alg, "kid": "k1", "typ": "at+jwt"}


def test_a_key_of_another_kind_or_curve_does_not_sign() -> None:
    with pytest.raises(ValueError, match="ES256"):
        sign_compact({}, alg="ES256", kid="k", key=RSAKey.generate_key(2048).private_key)
    with pytest.raises(ValueError, match="ES256"):
        sign_compact({}, alg="ES256", kid="k", key=ECKey.generate_key("P-384").private_key)
    with pytest.raises(ValueError, match="HS256"):
        sign_compact({}, alg="HS256", kid="k", key=ECKey.generate_key("P-256").private_key)
