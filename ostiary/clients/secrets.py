"""Client secrets: made here, shown once, stored as a SHA-256 digest.

A password needs a slow hash (argon2) because people choose guessable ones. A client secret
that Ostiary makes holds 256 random bits, and one given in a provisioning file at least 32
characters: nobody can guess through such a space, so a slow hash would only cost time on every
token request. The digest is not keyed with the server's secret key so that an exported
``client_secret_hash`` applies on another Ostiary as it is (a move between servers).

Stored format: ``$sha256$`` and 64 lowercase hex digits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from ostiary.errors import FieldProblem
from ostiary.text import Text

SECRET_BYTES = 32  # 256 bits
MIN_SECRET_LENGTH = 32
MAX_SECRET_LENGTH = 512
HASH_PREFIX = "$sha256$"
HASH_PATTERN = re.compile(r"^\$sha256\$[0-9a-f]{64}$")


def generate_secret() -> str:
    """A new secret: 256 random bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str) -> str:
    return HASH_PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def is_secret_hash(value: str) -> bool:
    return HASH_PATTERN.fullmatch(value) is not None


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """Whether ``secret`` is the one behind ``secret_hash``, compared in constant time."""
    if not secret_hash or not is_secret_hash(secret_hash):
        return False
    return hmac.compare_digest(secret_hash, hash_secret(secret))


def secret_problems(secret: str, *, field: str) -> list[FieldProblem]:
    """What is wrong with a secret given (in a provisioning file) rather than made here."""
    if len(secret) < MIN_SECRET_LENGTH:
        return [
            FieldProblem(
                field,
                Text(
                    "must be at least {min_secret_length} characters long",
                    min_secret_length=MIN_SECRET_LENGTH,
                ),
            )
        ]
    if len(secret) > MAX_SECRET_LENGTH:
        return [
            FieldProblem(
                field,
                Text(
                    "must be at most {max_secret_length} characters long",
                    max_secret_length=MAX_SECRET_LENGTH,
                ),
            )
        ]
    return []
