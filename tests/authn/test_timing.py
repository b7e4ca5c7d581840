"""Timing does not tell whether an account exists: at the login page and when asking for a
reset link. Statistical checks over repeated, interleaved runs, comparing medians with a wide
margin so that a busy machine does not make them fail; what they catch is a difference of a
whole password hash (login) or of the link's work done before answering (reset)."""

from __future__ import annotations

import http.client
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from ostiary.server import free_port
from tests.apps import app_for, served_over_http
from tests.authn.support import USERNAME, start
from tests.conftest import LOCAL_CLIENT
from tests.protocols.oidc.conftest import make_client, make_world

ROUNDS = 25


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "issuer": "http://testserver",
        "message_worker": False,
        # The configured hash cost, as in production, so that a missing decoy would show.
        "argon2_memory_cost_kib": 19456,
        "argon2_time_cost": 2,
        # Measuring, not throttling.
        "throttle_account_failures": 10_000,
        "throttle_address_failures": 10_000,
    }


def medians(known: Callable[[], Any], unknown: Callable[[], Any]) -> tuple[float, float]:
    """Median seconds of each, measured alternately after a warm-up."""
    for _ in range(3):
        known()
        unknown()
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(ROUNDS):
        for name, call in (("known", known), ("unknown", unknown)):
            began = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - began)
            time.sleep(0.1)  # let anything that runs after the answer finish
    return statistics.median(times["known"]), statistics.median(times["unknown"])


def assert_alike(known: float, unknown: float, floor: float) -> None:
    allowed = max(0.5 * min(known, unknown), floor)
    assert abs(known - unknown) <= allowed, (
        f"median {known * 1000:.1f} ms for an existing account, "
        f"{unknown * 1000:.1f} ms for none (allowed difference {allowed * 1000:.1f} ms)"
    )


def test_login_takes_as_long_for_an_unknown_user(runtime: Runtime) -> None:
    make_world(runtime)
    make_client(runtime, "spa")
    with TestClient(app_for(runtime), client=LOCAL_CLIENT, follow_redirects=False) as browser:
        fields = start(browser)

        def attempt(username: str) -> Callable[[], Any]:
            def call() -> None:
                answer = browser.post(
                    "/login",
                    data={**fields, "username": username, "password": "not the password"},
                )
                assert answer.status_code == 401

            return call

        known, unknown = medians(attempt(USERNAME), attempt("nobody-here"))
    # A hash costs tens of milliseconds here; without the decoy the unknown user would save it.
    assert_alike(known, unknown, floor=0.010)


@pytest.fixture
def server(runtime: Runtime) -> Iterator[int]:
    """The app served over real HTTP, so that what runs after the answer is not timed."""
    port = free_port()
    with served_over_http(app_for(runtime), port):
        yield port


def test_asking_for_a_reset_takes_as_long_for_an_unknown_account(
    runtime: Runtime, server: int
) -> None:
    make_world(runtime)

    def ask(identifier: str) -> Callable[[], Any]:
        body = f"identifier={identifier}".encode()

        def call() -> bytes:
            connection = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
            try:
                connection.request(
                    "POST",
                    "/login/forgot",
                    body=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                answer = connection.getresponse()
                page = answer.read()
                assert answer.status == 200
                return page
            finally:
                connection.close()

        return call

    assert ask(USERNAME)() == ask("nobody-here")()  # the same answer, byte for byte
    known, unknown = medians(ask(USERNAME), ask("nobody-here"))
    assert_alike(known, unknown, floor=0.005)
