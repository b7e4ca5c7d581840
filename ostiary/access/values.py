"""Values of access rights: how they are stored, checked and compared."""

from __future__ import annotations

import functools
import ipaddress
import re

from ostiary.access.models import Acl, AclType
from ostiary.text import Text

API_IP_ALLOW = "API IP Allow"
TRUE, FALSE = "true", "false"
MAX_TEXT_LENGTH = 2000
_SEPARATORS = re.compile(r"[\s,;]+")

RightValue = bool | str


def parse_networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """CIDR ranges separated by commas or spaces; raises ValueError naming the bad one."""
    networks = []
    for part in filter(None, _SEPARATORS.split(value.strip())):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                Text("'{part}' is not an IPv4 or IPv6 CIDR range", part=part)
            ) from None
    if not networks:
        raise ValueError("needs at least one CIDR range")
    return networks


@functools.lru_cache(maxsize=4096)
def _networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    # Every API call decides its caller's address against the same few values.
    return tuple(parse_networks(value))


def address_allowed(value: str | None, address: str | None) -> bool:
    """Whether ``address`` may use the API under an ``API IP Allow`` value (absent: never)."""
    if not value:
        return False
    networks = _networks(value)
    if any(net.prefixlen == 0 for net in networks):
        return True
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks if net.version == ip.version)


def normalise(acl: Acl, value: object) -> str:
    """The stored form of a value for ``acl``; raises ValueError saying what is wrong."""
    if acl.type == AclType.BOOL:
        if isinstance(value, bool):
            return TRUE if value else FALSE
        if isinstance(value, str) and value.strip().lower() in {TRUE, FALSE}:
            return value.strip().lower()
        raise ValueError("must be true or false")
    if not isinstance(value, str):
        raise ValueError("must be text")
    if len(value) > MAX_TEXT_LENGTH:
        raise ValueError(
            Text("must be at most {max_text_length} characters", max_text_length=MAX_TEXT_LENGTH)
        )
    if acl.key == API_IP_ALLOW:
        return ", ".join(str(net) for net in parse_networks(value))
    return value


def present(acl_type: str, stored: str | None) -> RightValue | None:
    """The value as clients see it: a bool for bool rights (unset is false), text or None."""
    if acl_type == AclType.BOOL:
        return stored == TRUE
    return stored


def value_rule(acl: Acl) -> str:
    """What ``normalise`` accepts for ``acl``, in words (English; pages translate it)."""
    if acl.type == AclType.BOOL:
        return "true or false"
    if acl.key == API_IP_ALLOW:
        return "CIDR ranges (IPv4 or IPv6), separated by commas or spaces"
    return f"text of at most {MAX_TEXT_LENGTH} characters"
