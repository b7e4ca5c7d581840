"""A small upstream OpenID provider over real HTTP whose token answers a test chooses, for
the ID tokens a real provider would never make (``alg: none``, wrong nonce, ...)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.jwk import RSAKey


@dataclass
class Upstream:
    issuer: str
    key: RSAKey
    # What the token endpoint answers next (an ID token), and the requests it had.
    id_token: str = ""
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)

    def sign(self, claims: dict[str, Any], *, alg: str = "RS256", key: Any = None) -> str:
        return jwt.encode({"alg": alg, "kid": "k1"}, claims, key or self.key)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {
            "iss": self.issuer,
            "sub": "person-1",
            "aud": "ostiary",
            "iat": now,
            "exp": now + 300,
            "email": "pat@corp.example",
            "email_verified": True,
        }
        return {**base, **overrides}


def unsigned(claims: dict[str, Any]) -> str:
    """An ``alg: none`` token: header and claims with an empty signature."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@contextmanager
def upstream() -> Iterator[Upstream]:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    state: dict[str, Upstream] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _json(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            up = state["up"]
            up.reads.append(self.path)
            if self.path == "/.well-known/openid-configuration":
                self._json(
                    200,
                    {
                        "issuer": up.issuer,
                        "authorization_endpoint": f"{up.issuer}/auth",
                        "token_endpoint": f"{up.issuer}/token",
                        "jwks_uri": f"{up.issuer}/jwks",
                        "id_token_signing_alg_values_supported": ["RS256", "none", "HS256"],
                    },
                )
            elif self.path == "/jwks":
                self._json(200, {"keys": [up.key.as_dict(private=False)]})
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            up = state["up"]
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            up.token_requests.append({"form": form, "authorization": self.headers["Authorization"]})
            self._json(200, {"access_token": "at", "token_type": "Bearer", "id_token": up.id_token})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["up"] = Upstream(issuer=f"http://127.0.0.1:{server.server_port}", key=key)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["up"]
    finally:
        server.shutdown()
        server.server_close()
