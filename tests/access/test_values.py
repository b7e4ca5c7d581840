from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ostiary.access.models import Acl, AclType
from ostiary.access.values import address_allowed, normalise, parse_networks

IP_ALLOW = Acl(key="API IP Allow", category="API", type=AclType.TEXT)
FLAG = Acl(key="flag", category="General", type=AclType.BOOL)


@pytest.mark.parametrize(
    ("value", "address", "allowed"),
    [
        (None, "127.0.0.1", False),
        ("", "127.0.0.1", False),
        ("0.0.0.0/0", "203.0.113.5", True),
        ("0.0.0.0/0", "2001:db8::1", True),
        ("0.0.0.0/0", None, True),
        ("10.0.0.0/8", "10.200.3.4", True),
        ("10.0.0.0/8", "11.0.0.1", False),
        ("10.0.0.0/8", "::ffff:10.1.1.1", True),
        ("10.0.0.0/8, 192.168.1.0/24", "192.168.1.77", True),
        ("2001:db8::/32", "2001:db8:1::1", True),
        ("2001:db8::/32", "10.0.0.1", False),
        ("127.0.0.1/32", "testclient", False),
        ("127.0.0.1/32", None, False),
    ],
)
def test_api_ip_allow(value: str | None, address: str | None, allowed: bool) -> None:
    assert address_allowed(value, address) is allowed


def test_api_ip_allow_values_are_checked_and_normalised() -> None:
    assert normalise(IP_ALLOW, "10.1.2.3/8;  2001:DB8::/32") == "10.0.0.0/8, 2001:db8::/32"
    with pytest.raises(ValueError, match="'10.0.0.300/8' is not an IPv4 or IPv6 CIDR range"):
        normalise(IP_ALLOW, "10.0.0.300/8")
    with pytest.raises(ValueError, match="needs at least one"):
        normalise(IP_ALLOW, " , ")


def test_bool_values() -> None:
    assert normalise(FLAG, True) == "true" and normalise(FLAG, "FALSE") == "false"
    with pytest.raises(ValueError, match="true or false"):
        normalise(FLAG, "yes")


@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=32))
def test_an_address_is_inside_its_own_network(address: object, prefix: int) -> None:
    network = f"{address}/{prefix}"
    assert address_allowed(", ".join(str(n) for n in parse_networks(network)), str(address))
