"""Attacks on the provider that must fail (RFC 9700), driven in process."""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from starlette.testclient import TestClient

from ostiary.protocols.oidc.rfc7636 import s256
from ostiary.runtime import Runtime
from tests.apps import app_for
from tests.conftest import LOCAL_CLIENT
from tests.protocols.oidc.conftest import PASSWORD, REDIRECT, make_client, make_world

VERIFIER = "v" * 50


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver"}


@pytest.fixture
def browser(runtime: Runtime) -> Any:
    make_world(runtime)
    make_client(runtime, "spa")
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def authorize_params(**extra: str) -> dict[str, str]:
    params = {
        "client_id": "spa",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid offline_access",
        "state": "st",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return {k: v for k, v in params.items() if v != "-"}


def login(browser: TestClient, **extra: str) -> dict[str, str]:
    first = browser.get("/oauth2/authorize", params=authorize_params(**extra))
    location = first.headers["location"]
    if location.startswith(REDIRECT):
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    page = browser.get(location).text
    flow = re.search(r'name="flow" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    done = browser.post(
        "/login", data={"flow": flow, "csrf": csrf, "username": "jeremy", "password": PASSWORD}
    )
    return {k: v[0] for k, v in parse_qs(urlsplit(done.headers["location"]).query).items()}


def exchange(browser: TestClient, code: str, **extra: str) -> Any:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": "spa",
        "code_verifier": VERIFIER,
    }
    data.update(extra)
    return browser.post("/oauth2/token", data={k: v for k, v in data.items() if v != "-"})


def refresh_with(browser: TestClient, refresh_token: str) -> Any:
    return browser.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "client_id": "spa", "refresh_token": refresh_token},
    )


def assert_revoked(browser: TestClient, tokens: dict[str, Any]) -> None:
    """The access token is refused at userinfo and the refresh token at the token endpoint."""
    userinfo = browser.get(
        "/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 401
    assert refresh_with(browser, tokens["refresh_token"]).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT + "/extra",
        REDIRECT + "?x=1",
        REDIRECT + "#frag",
        REDIRECT.upper(),
        "http://127.0.0.1:9/callback/../callback",
        "http://127.0.0.1:9/%63allback",
        "http://127.0.0.1:9/%2563allback",
        "http://evil.example@127.0.0.1:9/callback",
        "http://127.0.0.1:9@evil.example/callback",
        "javascript:alert(1)",
        "",
    ],
)
def test_redirect_uri_variants_get_an_error_page_never_a_redirect(
    browser: TestClient, redirect_uri: str
) -> None:
    response = browser.get(
        "/oauth2/authorize", params=authorize_params(redirect_uri=redirect_uri or "-")
    )
    assert response.status_code == 400 and "location" not in response.headers
    assert "redirect_uri" in response.text


def test_unknown_client_gets_an_error_page(browser: TestClient) -> None:
    response = browser.get("/oauth2/authorize", params=authorize_params(client_id="nobody"))
    assert response.status_code == 400 and "location" not in response.headers


def test_repeated_parameters_are_refused(browser: TestClient) -> None:
    query = urlencode(authorize_params()) + "&redirect_uri=" + "http://evil.example/"
    response = browser.get("/oauth2/authorize?" + query)
    assert response.status_code == 400 and "location" not in response.headers


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "-", "code_challenge_method": "-"}, "invalid_request"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"prompt": "none"}, "login_required"),
    ],
)
def test_refused_requests_go_back_with_an_error(
    browser: TestClient, extra: dict[str, str], error: str
) -> None:
    response = browser.get("/oauth2/authorize", params=authorize_params(**extra))
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert (
        query["error"] == [error]
        and query["state"] == ["st"]
        and query["iss"] == ["http://testserver"]
    )


def test_password_grant_and_unknown_grants_are_refused(browser: TestClient) -> None:
    response = browser.post(
        "/oauth2/token",
        data={
            "grant_type": "password",
            "username": "jeremy",
            "password": PASSWORD,
            "client_id": "spa",
        },
    )
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("path", ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"])
def test_an_oversized_body_is_refused_before_it_is_read_whole(
    browser: TestClient, path: str
) -> None:
    body = "grant_type=client_credentials&padding=" + "x" * (64 * 1024)
    response = browser.post(
        path, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413 and response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"grant_type=client_credentials&client_id=\xe9", "not a valid form"),
        (b"&".join(b"f%d=v" % i for i in range(1001)), "not a valid form"),
        (b"grant_type=client_credentials&grant_type=password", "appears more than once"),
    ],
)
@pytest.mark.parametrize("path", ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"])
def test_a_malformed_body_is_refused_as_an_invalid_request(
    browser: TestClient, path: str, body: bytes, problem: str
) -> None:
    response = browser.post(
        path, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert problem in response.json()["error_description"]


def test_the_token_endpoint_answers_other_methods_as_before(browser: TestClient) -> None:
    assert browser.get("/oauth2/token").status_code == 405
    slashed = browser.post("/oauth2/token/", data={"grant_type": "x"}, follow_redirects=False)
    assert slashed.status_code == 307
    assert slashed.headers["location"] == "http://testserver/oauth2/token"


def test_pkce_downgrade_and_wrong_verifier_fail(browser: TestClient, runtime: Runtime) -> None:
    code = login(browser)["code"]
    assert exchange(browser, code, code_verifier="-").json()["error"] == "invalid_grant"
    # A confidential client without a challenge cannot send a verifier either.
    make_client(runtime, "conf-nopkce", public=False, token_endpoint_auth_method="none")
    code2 = login(browser)["code"]
    assert exchange(browser, code2, code_verifier="w" * 50).json()["error"] == "invalid_grant"


def test_code_reuse_revokes_the_first_tokens(browser: TestClient) -> None:
    code = login(browser)["code"]
    first = exchange(browser, code).json()
    assert exchange(browser, code).json()["error"] == "invalid_grant"
    assert_revoked(browser, first)


def test_one_code_exchanged_four_times_at_once_gives_tokens_once_and_revokes_them(
    browser: TestClient,
) -> None:
    """An intercepted code raced against the client: one exchange wins, and the others,
    coming after it, revoke what it gave (RFC 9700 §4.2.4), however close together they are."""
    code = login(browser)["code"]
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def exchange_at_once() -> None:
        barrier.wait(timeout=30)
        results.append(exchange(browser, code))

    threads = [threading.Thread(target=exchange_at_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r.json() for r in results if r.status_code == 200]
    assert len(winners) == 1
    assert [r.json()["error"] for r in results if r.status_code != 200] == ["invalid_grant"] * 3
    assert_revoked(browser, winners[0])


def test_code_bound_to_redirect_uri_and_client(browser: TestClient, runtime: Runtime) -> None:
    code = login(browser)["code"]
    assert exchange(browser, code, redirect_uri=REDIRECT + "/x").json()["error"] == "invalid_grant"
    make_client(runtime, "other")
    assert (
        exchange(browser, login(browser)["code"], client_id="other").json()["error"]
        == "invalid_grant"
    )


def test_two_refreshes_at_once_at_most_one_wins_and_the_family_dies(browser: TestClient) -> None:
    tokens = exchange(browser, login(browser)["code"]).json()
    results: list[Any] = []

    def refresh() -> None:
        results.append(refresh_with(browser, tokens["refresh_token"]))

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r.json() for r in results if r.status_code == 200]
    assert len(winners) <= 1
    for winner in winners:
        assert refresh_with(browser, winner["refresh_token"]).json()["error"] == "invalid_grant"


def _forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def part(data: Any) -> str:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}.{part(signature) if signature else ''}"


def test_forged_and_misused_tokens_are_refused(browser: TestClient, runtime: Runtime) -> None:
    import hashlib
    import hmac

    tokens = exchange(browser, login(browser)["code"]).json()
    good = browser.get(
        "/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert good.status_code == 200
    claims = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[1] + "=="))
    none_token = _forge({"alg": "none", "typ": "at+jwt"}, claims)
    jwks = browser.get("/oauth2/jwks").json()
    public = json.dumps(jwks["keys"][0]).encode()
    unsigned = _forge({"alg": "HS256", "typ": "at+jwt", "kid": jwks["keys"][0]["kid"]}, claims)
    mac = hmac.new(public, unsigned.rstrip(".").encode(), hashlib.sha256).digest()
    hs256 = unsigned.rstrip(".") + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    for bad in (none_token, hs256, tokens["id_token"], tokens["access_token"][:-4] + "AAAA"):
        response = browser.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401


def test_tokens_of_a_deactivated_user_stop_working(browser: TestClient, runtime: Runtime) -> None:
    from sqlalchemy import select

    from ostiary.audit.actor import Actor
    from ostiary.users.lifecycle import LifecycleAction
    from ostiary.users.models import User
    from ostiary.users.services import UserService

    tokens = exchange(browser, login(browser)["code"]).json()
    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.username == "jeremy")).one()
        UserService(session, Actor("t", "cli"), runtime.passwords).act(
            user, LifecycleAction.DEACTIVATE
        )
    assert_revoked(browser, tokens)
    again = browser.get("/oauth2/authorize", params=authorize_params())
    assert "/login?flow=" in again.headers["location"]


def test_logout_is_not_an_open_redirect(browser: TestClient) -> None:
    tokens = exchange(browser, login(browser)["code"]).json()
    for params in (
        {"post_logout_redirect_uri": "http://evil.example/"},
        {"post_logout_redirect_uri": "http://evil.example/", "client_id": "spa"},
        {
            "post_logout_redirect_uri": "http://127.0.0.1:9/bye/x",
            "id_token_hint": tokens["id_token"],
        },
        {"post_logout_redirect_uri": "http://127.0.0.1:9/bye", "id_token_hint": "not.a.token"},
    ):
        response = browser.get("/oauth2/logout", params=params)
        assert response.status_code == 200 and "signed out" in response.text, params
