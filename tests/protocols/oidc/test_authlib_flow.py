"""The whole code flow with Authlib's OAuth 2.0 client against a real server."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError as ClientError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.protocols.oidc.conftest import PASSWORD, REDIRECT, Provider, make_client, make_world


def metadata(provider: Provider) -> dict:  # type: ignore[type-arg]
    return dict(
        requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=10).json()
    )


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, page
    return match.group(1)


def sign_in(browser: requests.Session, url: str, username: str, password: str) -> requests.Response:
    """Follow the authorization request to the login page and post the form."""
    to_login = browser.get(url, allow_redirects=False, timeout=10)
    assert to_login.status_code == 303, to_login.text
    page = browser.get(
        to_login.headers["location"]
        if to_login.headers["location"].startswith("http")
        else url.split("/oauth2")[0] + to_login.headers["location"],
        timeout=10,
    )
    assert page.status_code == 200
    base = url.split("/oauth2")[0]
    return browser.post(
        f"{base}/login",
        data={
            "flow": hidden(page.text, "flow"),
            "csrf": hidden(page.text, "csrf"),
            "username": username,
            "password": password,
        },
        allow_redirects=False,
        timeout=10,
    )


def test_code_flow_with_pkce_refresh_sso_and_logout(provider: Provider) -> None:
    world = make_world(provider.runtime)
    make_client(provider.runtime, "portal-spa")
    make_client(provider.runtime, "second-app")
    meta = metadata(provider)
    assert meta["issuer"] == provider.issuer and meta["code_challenge_methods_supported"] == [
        "S256"
    ]

    oauth = OAuth2Session(
        "portal-spa",
        redirect_uri=REDIRECT,
        scope="openid profile email offline_access",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = generate_token(48)
    url, state = oauth.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce="nonce-1"
    )
    browser = requests.Session()
    wrong = sign_in(browser, url, "jeremy", "not the password")
    assert wrong.status_code == 401 and "The username or password is not correct." in wrong.text
    unknown = sign_in(browser, url, "nobody@nowhere.example", "not the password")
    assert unknown.text.count("The username or password is not correct.") == 1

    answer = sign_in(browser, url, "jeremy@city.example", PASSWORD)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state] and query["iss"] == [provider.issuer]
    token = oauth.fetch_token(
        meta["token_endpoint"], authorization_response=location, code_verifier=verifier
    )

    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    id_token = jwt.decode(token["id_token"], keys, algorithms=["ES256", "RS256"]).claims
    assert (
        id_token["aud"] == "portal-spa"
        and id_token["nonce"] == "nonce-1"
        and id_token["sub"] == world.user_id
    )
    assert id_token["amr"] == ["pwd"] and "sid" in id_token and "auth_time" in id_token
    access = jwt.decode(token["access_token"], keys, algorithms=["ES256", "RS256"])
    assert access.header["typ"] == "at+jwt"
    assert access.claims["aud"] == "urn:ostiary:module:portal"
    assert access.claims["context"]["id"] == world.contexts["acme0"]
    assert access.claims["rights"] == {"portalAccess": True, "orders.read": True}

    info = oauth.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == world.user_id and info["email"] == "jeremy@city.example"
    assert info["preferred_username"] == "jeremy"

    # The code is single use: a second exchange fails and revokes what the first one gave.
    code = query["code"][0]
    again = requests.post(
        meta["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": "portal-spa",
            "code_verifier": verifier,
        },
        timeout=10,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert oauth.get(meta["userinfo_endpoint"]).status_code == 401

    # A second application signs in without the password prompt.
    second = OAuth2Session(
        "second-app", redirect_uri=REDIRECT, scope="openid", code_challenge_method="S256"
    )
    verifier2 = generate_token(48)
    url2, _ = second.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier2
    )
    direct = browser.get(url2, allow_redirects=False, timeout=10)
    assert direct.status_code == 303 and direct.headers["location"].startswith(REDIRECT)
    token2 = second.fetch_token(
        meta["token_endpoint"],
        authorization_response=direct.headers["location"],
        code_verifier=verifier2,
    )
    assert "refresh_token" in token2

    # Refresh rotates; the old refresh token used again revokes the family.
    old = token2["refresh_token"]
    refreshed = second.refresh_token(meta["token_endpoint"], refresh_token=old)
    assert refreshed["refresh_token"] != old
    with pytest.raises(ClientError) as reused:
        second.refresh_token(meta["token_endpoint"], refresh_token=old)
    assert reused.value.error == "invalid_grant"
    with pytest.raises(ClientError) as family:
        second.refresh_token(meta["token_endpoint"], refresh_token=refreshed["refresh_token"])
    assert family.value.error == "invalid_grant"

    # Logout ends the session on the server and returns only to a registered URI.
    bye = browser.get(
        meta["end_session_endpoint"],
        params={
            "id_token_hint": token2["id_token"],
            "post_logout_redirect_uri": "http://127.0.0.1:9/bye",
            "state": "s1",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert bye.status_code == 303 and bye.headers["location"] == "http://127.0.0.1:9/bye?state=s1"
    after = browser.get(url2, allow_redirects=False, timeout=10)
    assert "/login?flow=" in after.headers["location"]
