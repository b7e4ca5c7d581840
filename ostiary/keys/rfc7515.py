"""JWS Compact Serialization (RFC 7515 §7.1) for the two algorithms the key ring signs with.

The signature itself comes from ``cryptography``; this module only frames it: the protected
header and the payload as compact JSON in base64url, and an ES256 signature as the fixed-width
``R || S`` that RFC 7518 §3.4 asks for instead of the DER that OpenSSL returns. Every access
token is signed here, so the header of each key is encoded once.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ES256 = "ES256"
RS256 = "RS256"
P256 = "secp256r1"
_P256_BYTES = 32


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


# Made once: ``json.dumps`` with options builds an encoder at every call, and a signature
# algorithm object is as reusable.
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def _json(value: Mapping[str, Any]) -> bytes:
    return _ENCODE(value).encode()


@functools.lru_cache(maxsize=64)
def _header(alg: str, kid: str, typ: str | None) -> bytes:
    header = {"alg": alg, "kid": kid} | ({"typ": typ} if typ is not None else {})
    return b64url(_json(header))


def sign_compact(
    claims: Mapping[str, Any],
    *,
    alg: str,
    kid: str,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    typ: str | None = None,
) -> str:
    signing_input = _header(alg, kid, typ) + b"." + b64url(_json(claims))
    if alg == ES256 and isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == P256:
        r, s = decode_dss_signature(key.sign(signing_input, _ECDSA_SHA256))
        signature = r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")
    elif alg == RS256 and isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise ValueError(f"{alg} cannot sign with a {type(key).__name__}")
    return (signing_input + b"." + b64url(signature)).decode()
