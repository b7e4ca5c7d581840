"""Proof Key for Code Exchange, S256 only (RFC 7636 §4.6)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verifier_matches(challenge: str, verifier: str) -> bool:
    return bool(VERIFIER.match(verifier)) and secrets.compare_digest(s256(verifier), challenge)
