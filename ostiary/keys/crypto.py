"""Private signing keys encrypted at rest with a key derived from the server's secret key.

Format of a stored value: ``v1.<base64url(nonce || ciphertext || tag)>``.

- The encryption key is HKDF-SHA256 of ``Settings.effective_secret_key`` with a fixed ``info``
  label, so the same secret used elsewhere (verified-credential MACs, ...) never serves as an
  AES key directly, and a different label gives an unrelated key.
- AES-256-GCM with a random 96-bit nonce per value; a handful of keys per year is far below
  the nonce-collision bound of one key.
- The caller's ``context`` (the key's ``kid``) is bound as associated data: a ciphertext moved
  to another row does not decrypt there.
- The ``v1.`` prefix names the scheme, so that a later scheme (or a re-keying under a new
  secret) can be told apart from old rows and migrated one row at a time.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
_INFO = b"ostiary/signing-keys/aes-256-gcm/v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16


class KeyDecryptionError(Exception):
    """A stored private key could not be decrypted: wrong secret key, or the value was altered."""


def _derive(secret: bytes, info: bytes = _INFO) -> AESGCM:
    if not secret:
        raise ValueError("the secret key is empty")
    # No salt: the input is already a high-entropy secret (RFC 5869 section 3.1 allows it).
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
    return AESGCM(key)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    # validate=True refuses characters outside the alphabet instead of skipping them silently.
    return base64.b64decode(padded, altchars=b"-_", validate=True)


class SecretBox:
    """Encrypts and decrypts small values under the server's secret key."""

    def __init__(self, secret: bytes, *, info: bytes = _INFO) -> None:
        # Another ``info`` label (one per kind of value) derives an unrelated key.
        self._aead = _derive(secret, info)

    def encrypt(self, plaintext: bytes, *, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode())
        return f"{VERSION}.{_b64encode(nonce + sealed)}"

    def decrypt(self, stored: str, *, context: str) -> bytes:
        version, _, body = stored.partition(".")
        if version != VERSION:
            shown = version[:8]
            raise KeyDecryptionError(f"unknown encryption format {shown!r} (expected {VERSION})")
        try:
            raw = _b64decode(body)
        except (binascii.Error, ValueError):
            raise KeyDecryptionError("the encrypted value is not valid base64url") from None
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise KeyDecryptionError("the encrypted value is truncated")
        try:
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except InvalidTag:
            # GCM cannot tell the two apart, and saying which would not help an attacker anyway.
            raise KeyDecryptionError(
                "wrong secret key (OSTIARY_SECRET_KEY or ostiary-secret.key changed?) "
                "or the stored key was altered"
            ) from None


def encrypt_private_jwk(box: SecretBox, jwk: dict[str, Any], *, kid: str) -> str:
    """The private JWK as compact JSON, encrypted and bound to its ``kid``."""
    return box.encrypt(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode(), context=kid)


def decrypt_private_jwk(box: SecretBox, stored: str, *, kid: str) -> dict[str, Any]:
    plaintext = box.decrypt(stored, context=kid)
    try:
        value = json.loads(plaintext)
    except ValueError:
        raise KeyDecryptionError("the decrypted key is not JSON") from None
    if not isinstance(value, dict):
        raise KeyDecryptionError("the decrypted key is not a JSON object")
    return value
