"""Brute force at the login page and at HTTP Basic: counted per account and address, refused
unverified while waiting, visible to administrators, never a permanent lock; old hashes
upgraded at the next sign-in; unknown names cost a decoy hash."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from ostiary.audit.models import AuditEvent
from ostiary.authn.login import PasswordLogin
from ostiary.authn.passwords import Passwords
from ostiary.authn.throttle import (
    PASSWORD as KIND,
)
from ostiary.authn.throttle import (
    SignInThrottle,
    Throttle,
    Throttled,
    account_key,
    address_key,
)
from ostiary.db.types import utcnow
from ostiary.runtime import Runtime
from ostiary.users.models import User
from tests.apps import app_for
from tests.authn.support import USERNAME, password, redirected_code, start
from tests.conftest import ADMIN_PASSWORD, LOCAL_CLIENT, Database
from tests.helpers import assert_problem
from tests.protocols.oidc.conftest import PASSWORD, make_client, make_world


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"issuer": "http://testserver", "message_worker": False}


@pytest.fixture
def browser(runtime: Runtime) -> Any:
    make_world(runtime)
    make_client(runtime, "spa")
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as client:
        yield client


def user_id(runtime: Runtime, username: str = USERNAME) -> uuid.UUID:
    with runtime.sessions() as session:
        return session.scalars(select(User.id).where(User.username == username)).one()


def counter(runtime: Runtime, key: str) -> SignInThrottle | None:
    with runtime.sessions() as session:
        return session.get(SignInThrottle, (KIND, key))


def wait_over(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.atomic():
        session.execute(update(SignInThrottle).values(blocked_until=utcnow()))


class CountingVerify:
    """Records which hashes the login verified against."""

    def __init__(self, passwords: Passwords, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hashes: list[str | None] = []
        original = passwords.verify

        def verify(password_hash: str | None, secret: str) -> bool:
            self.hashes.append(password_hash)
            return original(password_hash, secret)

        monkeypatch.setattr(passwords, "verify", verify)


def test_the_login_page_throttles_after_five_failures(
    browser: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = start(browser)
    for _ in range(5):
        assert password(browser, fields, "not the password").status_code == 401
    verified = CountingVerify(runtime.passwords, monkeypatch)
    # Even the right password is not looked at while the account must wait.
    waiting = password(browser, fields)
    assert waiting.status_code == 429 and verified.hashes == []
    assert waiting.headers["retry-after"] == "2"
    assert "Too many attempts. Wait 2 seconds" in waiting.text
    german = browser.post(
        "/login",
        data={**fields, "username": USERNAME, "password": PASSWORD},
        headers={"Accept-Language": "de"},
    )
    assert "Warten Sie" in german.text
    jeremy = user_id(runtime)
    key = account_key(jeremy)
    row = counter(runtime, key)
    assert row is not None and row.failures == 7 and row.last_refused
    with runtime.sessions() as session:
        started = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "sign_in.throttled")
        ).one()
        assert started.target_id == str(jeremy) and started.client_address
    # No lasting lock: once the wait is over the right password signs in, and the count ends.
    wait_over(runtime)
    done = password(browser, fields)
    assert redirected_code(done)
    assert counter(runtime, key) is None


def test_unknown_names_are_throttled_like_real_ones(
    browser: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = start(browser)
    answers = [
        browser.post("/login", data={**fields, "username": "ghost", "password": "x" * 12})
        for _ in range(6)
    ]
    assert [a.status_code for a in answers] == [401] * 5 + [429]


def test_an_unknown_user_costs_a_decoy_hash(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_world(runtime)
    verified = CountingVerify(runtime.passwords, monkeypatch)
    with runtime.sessions() as session:
        login = PasswordLogin(session, runtime.passwords, runtime.basic.decoy_hash)
        assert login.verify("nobody", "some password") is None
        assert login.verify("", "some password") is None
        assert login.verify(USERNAME, "wrong password") is None
    decoy = runtime.basic.decoy_hash
    assert verified.hashes[:2] == [decoy, decoy] and verified.hashes[2] != decoy
    assert runtime.passwords.is_argon2_hash(decoy)
    # The decoy costs what a real hash costs: made with the same parameters.
    assert not runtime.passwords.needs_rehash(decoy)


def test_http_basic_answers_429_with_retry_after(client: TestClient, runtime: Runtime) -> None:
    for _ in range(5):
        assert client.get("/api/v1/users", auth=("admin", "wrong password")).status_code == 401
    body = assert_problem(client.get("/api/v1/users"), 429, "throttled")
    assert body["retry_after"] >= 1
    throttled = client.get("/api/v1/users")
    assert throttled.headers["retry-after"] == str(throttled.json()["retry_after"])
    wait_over(runtime)
    assert client.get("/api/v1/users").status_code == 200


def test_a_remembered_password_is_not_slowed_by_others_guessing(
    client: TestClient, runtime: Runtime
) -> None:
    assert client.get("/api/v1/users").status_code == 200  # verified once, remembered
    for _ in range(6):
        client.get("/api/v1/users", auth=("admin", "wrong password"))
    # The right password, verified moments ago, needs no hash and no throttle.
    assert client.get("/api/v1/users").status_code == 200


@pytest.mark.parametrize("threshold", [1000, 5])
def test_a_hundred_parallel_wrong_passwords_count_as_a_hundred(
    runtime: Runtime, threshold: int
) -> None:
    make_world(runtime)
    runtime.settings.throttle_account_failures = threshold
    # Waits longer than the test may take on a busy machine.
    runtime.settings.throttle_base_seconds = 600
    runtime.settings.throttle_address_failures = 10_000
    barrier = threading.Barrier(20)

    def guess(i: int) -> str:
        barrier.wait(timeout=30) if i < 20 else None
        with runtime.sessions() as session:
            login = PasswordLogin(
                session,
                runtime.passwords,
                runtime.basic.decoy_hash,
                throttle=Throttle(session, runtime.settings),
                address=f"192.0.2.{i % 50}",
            )
            try:
                return "ok" if login.verify(USERNAME, f"guess number {i}") else "wrong"
            except Throttled:
                return "throttled"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(guess, range(100)))
    row = counter(runtime, account_key(user_id(runtime)))
    assert row is not None and row.failures == 100
    if threshold == 1000:
        assert outcomes.count("wrong") == 100
    else:
        # Only the guesses up to the threshold were verified; the rest were refused unverified.
        assert outcomes.count("wrong") == 5 and outcomes.count("throttled") == 95


def test_a_sign_in_being_written_does_not_hold_up_logins_from_its_address(
    runtime: Runtime, database: Database
) -> None:
    """The people of a company behind one NAT share its address, and each login counts its
    attempt on that address's row: a login writing its sign-in must not lock the row until it
    commits, or they would sign in one after another."""
    if database.backend != "postgresql":
        pytest.skip("SQLite lets one transaction write at a time whatever rows it writes")
    make_world(runtime)
    address = "198.51.100.7"

    def login(session: Any) -> PasswordLogin:
        throttle = Throttle(session, runtime.settings)
        return PasswordLogin(
            session, runtime.passwords, runtime.basic.decoy_hash, throttle=throttle, address=address
        )

    def another_login() -> bool:
        with runtime.sessions() as session:
            return login(session).verify("admin", ADMIN_PASSWORD) is not None

    with runtime.sessions() as session:
        signing_in = login(session)
        user = signing_in.verify(USERNAME, PASSWORD)
        assert user is not None
        # The pool outside: should the other login wait, the rollback lets it go on.
        with ThreadPoolExecutor(max_workers=1) as pool, session.atomic():
            # The sign-in's writes (ostiary.web.login): the session, the audit event, the code.
            session.execute(update(User).where(User.id == user.id).values(last_login_at=utcnow()))
            assert pool.submit(another_login).result(timeout=20)
            signing_in.settle()
    # Both attempts were counted for the address; the settled one was taken back.
    row = counter(runtime, address_key(address))
    assert row is not None and row.failures == 1
    assert counter(runtime, account_key(user.id)) is None


def test_old_hash_parameters_are_upgraded_at_the_next_sign_in(
    browser: TestClient, client: TestClient, runtime: Runtime
) -> None:
    weaker = Passwords(
        runtime.settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_cost_kib": 8192})
    )
    old_hash = weaker.hash(PASSWORD)
    admin_old = weaker.hash(ADMIN_PASSWORD)
    with runtime.sessions() as session, session.atomic():
        session.execute(
            update(User).where(User.username == USERNAME).values(password_hash=old_hash)
        )
        session.execute(
            update(User).where(User.username == "admin").values(password_hash=admin_old)
        )
        stamps = {u: s for u, s in session.execute(select(User.username, User.security_stamp))}
    assert runtime.passwords.needs_rehash(old_hash)

    assert redirected_code(password(browser, start(browser)))
    assert client.get("/api/v1/users").status_code == 200
    with runtime.sessions() as session:
        for username in (USERNAME, "admin"):
            user = session.scalars(select(User).where(User.username == username)).one()
            assert user.password_hash not in (old_hash, admin_old)
            assert not runtime.passwords.needs_rehash(user.password_hash or "")
            # The same password: sessions and tokens stay valid.
            assert user.security_stamp == stamps[username]
    browser.cookies.clear()
    assert redirected_code(password(browser, start(browser)))
