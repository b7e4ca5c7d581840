"""Authenticator apps (RFC 6238) and recovery codes: the test vectors, the window, replay,
single use, enrolment through the self-service API, and the login with them."""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ostiary.authn.factors.models import RecoveryCode, TotpCredential
from ostiary.authn.factors.stepup import fresh
from ostiary.authn.factors.totp import code_at, matching_step, step_of
from ostiary.authn.models import BrowserSession
from ostiary.db.types import utcnow
from ostiary.runtime import Runtime
from tests.api.test_authorization import grant
from tests.apps import app_for
from tests.authn.support import USERNAME, enter, password, redirected_code, start
from tests.conftest import LOCAL_CLIENT
from tests.helpers import assert_problem
from tests.protocols.oidc.conftest import PASSWORD, make_client, make_world

# RFC 6238 Appendix B: the seeds are the ASCII strings, 20, 32 and 64 bytes long.
SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("moment", "sha1", "sha256", "sha512"), VECTORS)
def test_rfc_6238_vectors(moment: int, sha1: str, sha256: str, sha512: str) -> None:
    for digest, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        secret = base64.b32encode(SEEDS[digest]).decode()
        assert code_at(secret, step_of(moment), digits=8, digest=digest) == expected


def test_the_window_is_one_step_either_side() -> None:
    secret = pyotp.random_base32()
    now = 1_700_000_015.0
    step = step_of(now)
    for offset in (-1, 0, 1):
        assert matching_step(secret, code_at(secret, step + offset), now) == step + offset
    for offset in (-3, -2, 2, 3):
        code = code_at(secret, step + offset)
        if all(code != code_at(secret, step + o) for o in (-1, 0, 1)):
            assert matching_step(secret, code, now) is None
    assert matching_step(secret, "12345", now) is None
    assert matching_step(secret, "abcdef", now) is None


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver", "message_worker": False}


@pytest.fixture
def browser(runtime: Runtime) -> Any:
    make_world(runtime)
    make_client(runtime, "spa")
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def _enrol(browser: TestClient) -> tuple[str, list[str]]:
    auth = (USERNAME, PASSWORD)
    begun = browser.post("/api/v1/me/authenticator-app", auth=auth)
    assert begun.status_code == 201, begun.text
    body = begun.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert (
        body["qr_svg"].lstrip().startswith("<svg")
        and "http" not in body["qr_svg"].split("xmlns")[0]
    )
    secret = body["secret"]
    wrong = browser.post("/api/v1/me/authenticator-app/confirm", json={"code": "000000"}, auth=auth)
    if code_at(secret, step_of(time.time())) != "000000":
        assert_problem(wrong, 422, "rule-violation", "code")
    confirmed = browser.post(
        "/api/v1/me/authenticator-app/confirm",
        json={"code": pyotp.TOTP(secret).now()},
        auth=auth,
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    return secret, codes


def test_enrolment_then_login_with_the_app_and_replay(
    browser: TestClient, runtime: Runtime
) -> None:
    secret, codes = _enrol(browser)
    assert len(codes) == 10 and len(set(codes)) == 10
    with runtime.sessions() as session:
        stored = session.scalars(select(TotpCredential)).one()
        assert secret not in stored.secret and stored.confirmed_at is not None
        hashes = session.scalars(select(RecoveryCode.code_hash)).all()
        assert len(hashes) == 10 and not set(codes) & set(hashes)
    overview = browser.get("/api/v1/me/second-factors", auth=(USERNAME, PASSWORD)).json()
    assert overview["authenticator_app"]["enrolled"] and overview["recovery_codes_remaining"] == 10
    # The code used to confirm works no more: wait for a later step.
    with runtime.sessions() as session, session.atomic():
        row = session.scalars(select(TotpCredential)).one()
        row.last_step = step_of(time.time()) - 2
    fields = start(browser)
    after = password(browser, fields)
    assert after.headers["location"].startswith("/login/second-factor")
    page = browser.get(after.headers["location"]).text
    assert 'name="method" value="totp"' in page and "Code by message" not in page
    code = pyotp.TOTP(secret).now()
    done = enter(browser, fields, code, "totp")
    assert redirected_code(done), done.text
    # Replay: the same code in a new login is refused.
    again = start(browser, prompt="login")
    password(browser, again)
    replay = enter(browser, again, code, "totp")
    assert replay.status_code == 401 and "The code is not correct." in replay.text
    # A recovery code works once.
    assert redirected_code(enter(browser, again, codes[0].upper().replace("-", " "), "recovery"))
    third = start(browser, prompt="login")
    password(browser, third)
    assert enter(browser, third, codes[0], "recovery").status_code == 401
    assert redirected_code(enter(browser, third, codes[1], "recovery"))


def test_a_later_step_works_after_one_was_used(runtime: Runtime) -> None:
    from ostiary.authn.factors.totp import TotpService
    from ostiary.users.models import User

    make_world(runtime)
    clock = {"now": 1_800_000_000.0}
    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.username == USERNAME)).one()
        service = TotpService(session, runtime, clock=lambda: clock["now"])
        enrolment = service.begin(user)
        step = step_of(clock["now"])
        assert service.confirm(user, code_at(enrolment.secret, step), _actor())
        # The same step, and the one before, never again.
        assert not service.verify(user, code_at(enrolment.secret, step))
        assert not service.verify(user, code_at(enrolment.secret, step - 1))
        # The next step, accepted a step early (clock drift) ...
        assert service.verify(user, code_at(enrolment.secret, step + 1))
        clock["now"] += 60
        # ... and two steps later the current one.
        assert service.verify(user, code_at(enrolment.secret, step + 2))
        clock["now"] += 300
        assert not service.verify(user, code_at(enrolment.secret, step + 3))


def _actor() -> Any:
    from ostiary.audit.actor import Actor

    return Actor.system()


def test_changing_a_factor_needs_a_recent_sign_in(runtime: Runtime) -> None:
    now = utcnow()
    browser = BrowserSession(auth_time=now - timedelta(minutes=30), reauthenticated_at=None)
    assert not fresh(browser, runtime.settings, now=now)
    browser.reauthenticated_at = now - timedelta(minutes=1)
    assert fresh(browser, runtime.settings, now=now)
    browser.auth_time, browser.reauthenticated_at = now - timedelta(minutes=2), None
    assert fresh(browser, runtime.settings, now=now)


def test_self_service_needs_a_local_user_and_removing_works(
    browser: TestClient, runtime: Runtime
) -> None:
    _enrol(browser)
    auth = (USERNAME, PASSWORD)
    regenerated = browser.post("/api/v1/me/recovery-codes", auth=auth).json()["recovery_codes"]
    assert len(regenerated) == 10
    assert browser.delete("/api/v1/me/authenticator-app", auth=auth).status_code == 204
    overview = browser.get("/api/v1/me/second-factors", auth=auth).json()
    assert not overview["authenticator_app"]["enrolled"]
    # Nothing enrolled and the instance setting disabled: the password is enough again.
    assert redirected_code(password(browser, start(browser)))


def test_administrators_need_users_two_factor(client: TestClient, runtime: Runtime) -> None:
    from tests.api.test_authorization import api_user
    from tests.helpers import make_user, root_id

    make_user(client, "target", domain="CSP", status="active", context_ids=[root_id(client)])
    api_user(client, "manager", [root_id(client)])
    grant(
        runtime,
        "manager",
        "root",
        {"access": True, "users.read": True, "users.manage": True, "API IP Allow": "127.0.0.1/32"},
    )
    target = client.get("/api/v1/users", params={"username": "target"}).json()["items"][0]["id"]
    manager = ("manager", "pw of reganam 123")
    refused = client.patch(f"/api/v1/users/{target}", json={"two_factor": "sms"}, auth=manager)
    assert refused.status_code in (403, 404), refused.text
    assert (
        client.patch(f"/api/v1/users/{target}", json={"first_name": "T"}, auth=manager).status_code
        == 200
    )
    changed = client.patch(f"/api/v1/users/{target}", json={"two_factor": "sms+email"})
    assert changed.status_code == 200 and changed.json()["two_factor"] == "sms+email"
    # Only channels this server can send by.
    runtime.settings.dev_outbox = False
    assert_problem(
        client.patch(f"/api/v1/users/{target}", json={"two_factor": "sms"}),
        422,
        "rule-violation",
        "two_factor",
    )
    runtime.settings.dev_outbox = True
    factors = client.get(f"/api/v1/users/{target}/second-factors").json()
    assert factors["effective"] == "sms+email" and factors["code_channels"] == ["sms", "email"]
    assert client.delete(f"/api/v1/users/{target}/second-factors", auth=manager).status_code in (
        403,
        404,
    )
    assert client.delete(f"/api/v1/users/{target}/second-factors").status_code == 204
