"""Receivers Ostiary refuses to send to: inner networks, other schemes, redirects; checked
when subscribing and again, as resolved then, at every delivery."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from starlette.testclient import TestClient

from ostiary.runtime import Runtime
from ostiary.webhooks.delivery import NetworkPolicy, UnsafeTarget, check_target
from tests.helpers import assert_problem, make_user, root_id
from tests.webhooks.conftest import deliver, subscribe
from tests.webhooks.receiver import Receiver, receiver


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.0.1",
        "100.64.0.1",
        "169.254.169.254",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "127.0.0.1",
        "::1",
        "0.0.0.0",
        "224.0.0.1",
    ],
)
def test_inner_addresses_are_refused_by_default(address: str) -> None:
    assert NetworkPolicy().refusal(ipaddress.ip_address(address)) is not None


def test_the_settings_open_private_networks_and_loopback_separately() -> None:
    private = NetworkPolicy(allow_private=True)
    assert private.refusal(ipaddress.ip_address("10.0.0.1")) is None
    assert private.refusal(ipaddress.ip_address("169.254.1.1")) is None
    assert private.refusal(ipaddress.ip_address("127.0.0.1")) is not None
    loopback = NetworkPolicy(allow_loopback=True)
    assert loopback.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert loopback.refusal(ipaddress.ip_address("10.0.0.1")) is not None
    assert NetworkPolicy().refusal(ipaddress.ip_address("93.184.216.34")) is None


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://93.184.216.34/",
        "http://93.184.216.34/hook",  # http only to this machine
        "https://localhost/hook",  # loopback, not allowed here
        "https:///no-host",
    ],
)
def test_urls_that_cannot_be_receivers(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        check_target(url, NetworkPolicy())


def test_a_redirect_is_not_followed(client: TestClient, runtime: Runtime, hook: Receiver) -> None:
    with receiver() as elsewhere:
        hook.answers = [302]
        hook.headers = {"Location": elsewhere.url}
        sub = subscribe(client, root_id(client), hook.url)
        make_user(client, "redirected")
        assert deliver(runtime).retrying == 1
        assert len(hook.received) == 1 and elsewhere.received == []
    (delivery,) = client.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()["items"]
    assert delivery["state"] == "pending" and delivery["last_status"] == 302
    assert "redirect" in delivery["last_error"]


def test_a_name_that_points_inward_at_delivery_time_is_not_sent_to(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {"now": "93.184.216.34"}
    real = socket.getaddrinfo

    def resolving(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "crm.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers["now"], 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolving)
    sub = subscribe(client, root_id(client), "https://crm.example.test/hook")
    answers["now"] = "10.20.30.40"  # DNS rebinding: the name now points into the network
    make_user(client, "rebound")
    assert deliver(runtime).retrying == 1
    (delivery,) = client.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()["items"]
    assert delivery["last_status"] is None
    assert "refused" in delivery["last_error"] and "private address" in delivery["last_error"]
    # And a name that points inward is refused when subscribing too.
    assert_problem(
        client.post(
            "/api/v1/webhooks",
            json={"context_id": root_id(client), "url": "https://crm.example.test/other"},
        ),
        422,
        "rule-violation",
        "url",
    )


def test_a_receiver_no_longer_allowed_gets_nothing(
    client: TestClient, runtime: Runtime, hook: Receiver
) -> None:
    sub = subscribe(client, root_id(client), hook.url)
    make_user(client, "unsent")
    stricter = runtime.settings.model_copy(update={"webhooks_allow_loopback": False})
    other = Runtime(stricter, runtime.engine, runtime.sessions, runtime.passwords)
    assert deliver(other).retrying == 1
    assert hook.received == []
    (delivery,) = client.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()["items"]
    assert "loopback" in delivery["last_error"]
