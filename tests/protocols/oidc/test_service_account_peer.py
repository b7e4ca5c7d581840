"""A client's service account at the admin API, driven by openid-client (npm) against a real
server: client credentials with private_key_jwt, then the admin API with the bearer token,
within the rights of the account's groups and no further."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx2 as httpx
from joserfc.jwk import ECKey

from tests.conftest import ADMIN_PASSWORD
from tests.protocols.oidc.conftest import Provider
from tests.protocols.oidc.test_openid_client import node  # noqa: F401  (the fixture)

SCRIPT = Path(__file__).resolve().parents[2] / "peers" / "openid_client_service_account.mjs"


def run(node: str, config: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    done = subprocess.run(
        [node, str(SCRIPT)], input=json.dumps(config), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, (
        f"openid-client raised against Ostiary (a defect in Ostiary):\n{done.stderr}"
    )
    return dict(json.loads(done.stdout))


def test_openid_client_calls_the_admin_api_as_a_service_account(
    node: str,  # noqa: F811
    provider: Provider,
) -> None:
    key = ECKey.generate_key("P-256", parameters={"kid": "sync-key"})
    with httpx.Client(base_url=provider.issuer, auth=("admin", ADMIN_PASSWORD)) as admin:

        def made(response: httpx.Response) -> dict[str, Any]:
            assert response.status_code in (200, 201, 204), response.text
            return dict(response.json()) if response.content else {}

        root = made(admin.get("/api/v1/contexts", params={"type": "root"}))["items"][0]["id"]
        acme = made(
            admin.post(
                "/api/v1/contexts",
                json={"type": "account", "name": "Acme", "key": "acme", "parent_id": root},
            )
        )["id"]
        other = made(
            admin.post(
                "/api/v1/contexts",
                json={"type": "account", "name": "Other", "key": "other", "parent_id": root},
            )
        )["id"]
        for username, context in (("worker", acme), ("stranger", other)):
            made(
                admin.post(
                    "/api/v1/users",
                    json={"username": username, "domain": "ENTERPRISE", "context_ids": [context]},
                )
            )
        registered = made(
            admin.post(
                "/api/v1/clients",
                json={
                    "client_id": "crm-sync",
                    "name": "CRM sync",
                    "module": "ostiary",
                    "grant_types": ["client_credentials"],
                    "token_endpoint_auth_method": "private_key_jwt",
                    "jwks": {"keys": [key.as_dict(private=False)]},
                },
            )
        )
        account = registered["service_account_user_id"]
        made(admin.put(f"/api/v1/users/{account}/contexts/{acme}"))
        readers = made(
            admin.post(
                f"/api/v1/contexts/{acme}/groups",
                json={
                    "name": "Readers",
                    "rights": {
                        "ostiary": {
                            "access": True,
                            "users.read": True,
                            "API IP Allow": "127.0.0.0/8",
                        }
                    },
                },
            )
        )
        made(admin.put(f"/api/v1/contexts/{acme}/groups/{readers['id']}/members/{account}"))
        stranger = made(admin.get("/api/v1/users", params={"username": "stranger"}))["items"][0]

    seen = run(
        node,
        {
            "issuer": provider.issuer,
            "client_id": "crm-sync",
            "private_jwk": key.as_dict(private=True),
            "resources": {
                "users": "/api/v1/users",
                "stranger": f"/api/v1/users/{stranger['id']}",
                "clients": "/api/v1/clients",
            },
        },
    )

    claims = seen["access_token"]
    assert claims["sub"] == "crm-sync" and claims["aud"] == "urn:ostiary:module:ostiary"
    users = seen["resources"]["users"]
    assert users["status"] == 200
    assert {u["username"] for u in users["body"]["items"]} == {
        "worker",
        "service-account-crm-sync",
    }
    assert seen["resources"]["stranger"]["status"] == 404
    assert seen["resources"]["clients"]["status"] == 403
    assert seen["second_token"] is True
