"""Signing as the Standard Webhooks specification says (standardwebhooks.com, "Signature
scheme"): HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}`` with the secret's bytes,
sent as ``v1,<base64>``; several signatures are separated by spaces, so that a receiver still
holding the previous secret during a rotation verifies too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def generate_secret() -> str:
    """A new secret in the form receivers' libraries take: ``whsec_`` and base64 of 32 bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_bytes(secret: str) -> bytes:
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ and base64") from None
    if len(raw) < 24:
        raise ValueError("a webhook secret has at least 24 bytes")
    return raw


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(
    secrets_: Sequence[str], message_id: str, sent_at: datetime, body: bytes
) -> dict[str, str]:
    """The three headers of one attempt, signed with each of ``secrets_``."""
    timestamp = int(sent_at.timestamp())
    signatures = " ".join(sign(secret, message_id, timestamp, body) for secret in secrets_)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
