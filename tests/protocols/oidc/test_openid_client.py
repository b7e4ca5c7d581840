"""The whole provider driven by openid-client (npm), a certified OpenID Connect relying party.

tests/peers/openid_client_flow.mjs plays the browser and the applications; it fails on anything
openid-client refuses, and any such refusal is a defect in Ostiary, not in the test.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ostiary.clients.secrets import generate_secret, hash_secret
from tests.protocols.oidc.conftest import PASSWORD, REDIRECT, Provider, make_client, make_world

PEERS = Path(__file__).resolve().parents[2] / "peers"
SCRIPT = PEERS / "openid_client_flow.mjs"
BYE = "http://127.0.0.1:9/bye"
RIGHTS = {"portalAccess": True, "orders.read": True}
INACTIVE = {"active": False}


def _installed() -> bool:
    """Whether node_modules holds exactly what package-lock.json pins."""
    installed = PEERS / "node_modules" / ".package-lock.json"
    if not installed.exists():
        return False
    wanted = json.loads((PEERS / "package-lock.json").read_text())["packages"]
    have = json.loads(installed.read_text())["packages"]
    return all(
        have.get(name, {}).get("version") == entry.get("version")
        for name, entry in wanted.items()
        if name
    )


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, with tests/peers installed (npm ci) if it was not."""
    found = shutil.which("node")
    if found is None:
        pytest.skip("Node.js is not installed (no `node` on PATH), so openid-client cannot run")
    if not _installed():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed, so openid-client cannot be installed")
        # One install at a time: xdist workers, or other runs in this checkout.
        handle = os.open(PEERS, os.O_RDONLY)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            if not _installed():
                done = subprocess.run(
                    [npm, "ci", "--prefix", str(PEERS), "--no-audit", "--no-fund"],
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                if done.returncode != 0:
                    pytest.fail(f"npm ci --prefix {PEERS} failed:\n{done.stdout}\n{done.stderr}")
        finally:
            os.close(handle)
    return found


def run_peer(node: str, config: dict[str, object]) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [node, str(SCRIPT)], input=json.dumps(config), capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        pytest.fail(
            "openid-client raised against Ostiary (a defect in Ostiary):\n"
            f"{done.stderr}\n{done.stdout}",
            pytrace=False,
        )
    return dict(json.loads(done.stdout))


def audiences(claims: dict) -> list[str]:  # type: ignore[type-arg]
    aud = claims["aud"]
    return [aud] if isinstance(aud, str) else list(aud)


def test_openid_client_discovery_code_flow_refresh_introspection_revocation_logout(
    node: str, provider: Provider
) -> None:
    world = make_world(provider.runtime, contexts=2)
    chosen, named = world.contexts["acme1"], world.contexts["acme0"]
    web_secret, service_secret = generate_secret(), generate_secret()
    make_client(provider.runtime, "portal-spa")
    make_client(
        provider.runtime,
        "portal-web",
        public=False,
        token_endpoint_auth_method="client_secret_basic",
        secret_hash=hash_secret(web_secret),
        signing_alg="RS256",
    )
    make_client(
        provider.runtime,
        "portal-api",
        public=False,
        token_endpoint_auth_method="client_secret_post",
        secret_hash=hash_secret(service_secret),
        redirect_uris=[],
        post_logout_redirect_uris=[],
        grant_types=["client_credentials"],
        scopes=["profile"],
    )

    seen = run_peer(
        node,
        {
            "issuer": provider.issuer,
            "redirect_uri": REDIRECT,
            "post_logout_redirect_uri": BYE,
            "username": world.username,
            "password": PASSWORD,
            "choose_context": chosen,
            "spa": {"client_id": "portal-spa", "scope": "openid profile email offline_access"},
            "web": {
                "client_id": "portal-web",
                "client_secret": web_secret,
                "scope": "openid profile email",
                "parameters": {"context": "acme0", "max_age": "300"},
            },
            "service": {
                "client_id": "portal-api",
                "client_secret": service_secret,
                "scope": "profile",
            },
        },
    )

    # Discovery, by both documents.
    assert seen["metadata"] == {
        "issuer": provider.issuer,
        "oauth2_issuer": provider.issuer,
        "supportsPKCE": True,
        "authorization_response_iss_parameter_supported": True,
    }

    # The public SPA: the login form, the context chooser, a code with state and iss.
    spa = seen["spa"]
    assert "login form" in spa["pages"] and "context chooser" in spa["pages"], spa["pages"]
    assert spa["callback_parameters"] == ["code", "iss", "state"]
    id_token = spa["id_token"]
    assert id_token["sub"] == world.user_id and id_token["iss"] == provider.issuer
    assert audiences(id_token) == ["portal-spa"] and id_token["nonce"] == spa["nonce"]
    assert id_token["amr"] == ["pwd"] and id_token["sid"] and id_token["auth_time"]
    assert spa["token_type"].lower() == "bearer" and spa["has_refresh_token"]
    assert spa["scope"] == "openid profile email offline_access" and spa["expires_in"] > 0
    access = spa["access_token"]
    assert access["header"]["typ"] == "at+jwt" and access["header"]["alg"] == "ES256"
    assert access["payload"]["aud"] == "urn:ostiary:module:portal"
    assert access["payload"]["sub"] == world.user_id
    assert access["payload"]["client_id"] == "portal-spa"
    assert access["payload"]["sid"] == id_token["sid"]
    assert access["payload"]["context"] == {"id": chosen, "type": "account", "name": "Acme 1"}
    assert access["payload"]["rights"] == RIGHTS

    info = spa["userinfo"]
    assert info["sub"] == world.user_id and info["email"] == "jeremy@city.example"
    assert info["preferred_username"] == "jeremy" and info["name"] == "Jeremy Mills"

    refresh = spa["refresh"]
    assert refresh["new_refresh_token"] and refresh["has_refresh_token"]
    assert refresh["id_token"] is None or refresh["id_token"]["sub"] == world.user_id
    assert refresh["access_token"]["payload"]["context"]["id"] == chosen
    assert refresh["access_token"]["payload"]["rights"] == RIGHTS

    looked = spa["introspection"]
    assert looked["access_token"]["active"] is True
    assert looked["access_token"]["sub"] == world.user_id
    assert looked["access_token"]["client_id"] == "portal-spa"
    assert looked["access_token"]["username"] == "jeremy"
    assert looked["access_token"]["context"]["id"] == chosen
    assert looked["access_token"]["rights"] == RIGHTS
    assert looked["refresh_token"]["active"] is True
    assert looked["refresh_token"]["client_id"] == "portal-spa"
    assert looked["rotated_refresh_token"] == INACTIVE
    # Revoking the refresh token takes the grant, and so its access tokens, with it.
    revoked = spa["after_revocation"]
    assert revoked["refresh_token"] == INACTIVE and revoked["access_token"] == INACTIVE
    # ... and what is refused is refused in the forms openid-client reads.
    assert revoked["refresh"] == {"kind": "error body", "status": 400, "error": "invalid_grant"}
    assert revoked["userinfo"] == {
        "kind": "challenge",
        "status": 401,
        "challenges": [{"scheme": "bearer", "error": "invalid_token"}],
    }

    # The confidential web app: signed in by the same session, context named in the request.
    web = seen["web"]
    assert "login form" not in web["pages"] and "context chooser" not in web["pages"], web["pages"]
    assert web["id_token"]["sub"] == world.user_id and audiences(web["id_token"]) == ["portal-web"]
    assert web["id_token"]["nonce"] == web["nonce"]
    assert web["id_token"]["sid"] == id_token["sid"]
    assert web["access_token"]["header"]["alg"] == "RS256"  # the client's signing_alg
    assert web["access_token"]["payload"]["client_id"] == "portal-web"
    assert web["access_token"]["payload"]["context"]["id"] == named
    assert web["userinfo"]["sub"] == world.user_id
    assert web["introspection"]["active"] is True
    assert web["introspection"]["client_id"] == "portal-web"
    assert web["after_revocation"]["access_token"] == INACTIVE
    assert web["after_revocation"]["refresh_token"]["active"] is True
    assert web["wrong_secret"]["status"] == 401
    assert [c["scheme"] for c in web["wrong_secret"]["challenges"]] == ["basic"]

    # Client credentials: the client itself is the subject; no ID token, no refresh token.
    service = seen["service"]
    claims = service["access_token"]["payload"]
    assert claims["sub"] == "portal-api" and claims["client_id"] == "portal-api"
    assert claims["aud"] == "urn:ostiary:module:portal" and claims["scope"] == "profile"
    assert "context" not in claims and "rights" not in claims
    assert not service["has_id_token"] and not service["has_refresh_token"]
    assert service["introspection"]["active"] is True
    assert service["introspection"]["sub"] == "portal-api"

    # Logout returns to the registered URI with the state, and ends the session.
    logout = seen["logout"]
    assert logout["status"] == 303 and logout["location"] == logout["expected_location"]
    assert logout["location"].startswith(BYE + "?state=")
    assert logout["cookies_left"] == []
    assert logout["next_authorization"] == "303 /login"
    assert logout["prompt_none"] == {"kind": "authorization error", "error": "login_required"}
    assert logout["web_refresh_token"] == INACTIVE
