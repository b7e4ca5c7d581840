"""Private keys at rest: AES-256-GCM under a key derived from the server's secret key."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ostiary.keys.crypto import (
    KeyDecryptionError,
    SecretBox,
    decrypt_private_jwk,
    encrypt_private_jwk,
)

JWK = {"kty": "EC", "crv": "P-256", "x": "xx", "y": "yy", "d": "the-private-scalar"}


def test_round_trip_with_the_right_secret() -> None:
    box = SecretBox(b"server secret")
    stored = encrypt_private_jwk(box, JWK, kid="k1")
    assert stored.startswith("v1.")
    assert "the-private-scalar" not in stored and '"d"' not in stored
    assert decrypt_private_jwk(SecretBox(b"server secret"), stored, kid="k1") == JWK


def test_each_encryption_uses_a_fresh_nonce() -> None:
    box = SecretBox(b"server secret")
    assert encrypt_private_jwk(box, JWK, kid="k1") != encrypt_private_jwk(box, JWK, kid="k1")


def test_wrong_secret_is_refused_clearly() -> None:
    stored = encrypt_private_jwk(SecretBox(b"server secret"), JWK, kid="k1")
    with pytest.raises(KeyDecryptionError, match="wrong secret key"):
        decrypt_private_jwk(SecretBox(b"another secret"), stored, kid="k1")


def test_value_moved_to_another_kid_is_refused() -> None:
    box = SecretBox(b"server secret")
    stored = encrypt_private_jwk(box, JWK, kid="k1")
    with pytest.raises(KeyDecryptionError):
        decrypt_private_jwk(box, stored, kid="k2")


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1],  # a flipped ciphertext byte
        lambda s: s[:20],  # truncated
        lambda s: "v2." + s[3:],  # unknown version
        lambda s: s[:10] + "*" + s[11:],  # not base64url
    ],
    ids=["flipped", "truncated", "version", "alphabet"],
)
def test_tampered_values_are_refused(damage: Callable[[str], str]) -> None:
    box = SecretBox(b"server secret")
    stored = encrypt_private_jwk(box, JWK, kid="k1")
    with pytest.raises(KeyDecryptionError):
        decrypt_private_jwk(box, damage(stored), kid="k1")


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        SecretBox(b"")
