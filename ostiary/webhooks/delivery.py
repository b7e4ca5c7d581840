"""Sending one webhook: the receiver's URL checked, its address checked again as resolved now
(a name that resolved to a public address at subscription may point inward later), the
connection made to the address that was checked, no redirect followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx2 as httpx

from ostiary.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Shared address space of carrier-grade NAT: not global, and not ``is_private`` either.
_SHARED = ipaddress.ip_network("100.64.0.0/10")


class UnsafeTarget(ValueError):
    """A receiver URL that Ostiary does not send to."""


@dataclass(frozen=True)
class NetworkPolicy:
    allow_private: bool = False
    allow_loopback: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> NetworkPolicy:
        return cls(settings.webhooks_allow_private_networks, settings.webhooks_allow_loopback)

    def refusal(self, address: Address) -> str | None:
        """Why ``address`` may not be sent to, or None."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if address.is_loopback:
            return None if self.allow_loopback else "a loopback address"
        if address.is_unspecified or address.is_multicast or address.is_reserved:
            return "not a unicast address"
        if address.is_link_local:
            return None if self.allow_private else "a link-local address"
        if address.is_private or address in _SHARED or not address.is_global:
            return None if self.allow_private else "a private address"
        return None


def check_url(url: str) -> SplitResult:
    """The URL's parts if it can name a receiver at all: http(s), a host, no credentials."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise UnsafeTarget("not a valid URL") from None
    if parts.scheme not in ("https", "http"):
        raise UnsafeTarget("the URL must be https://")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("the URL may not hold credentials; the signature authenticates")
    if parts.fragment:
        raise UnsafeTarget("the URL may not have a fragment")
    return parts


def resolve(parts: SplitResult, policy: NetworkPolicy) -> list[Address]:
    """The receiver's addresses, every one of them allowed; refused otherwise."""
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise UnsafeTarget(f"the host {host} does not resolve ({exc})") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    for address in addresses:
        reason = policy.refusal(address)
        if reason is not None:
            raise UnsafeTarget(f"the host {host} is {reason} ({address})")
    if parts.scheme == "http" and not all(_loopback(address) for address in addresses):
        raise UnsafeTarget("the URL must be https:// (http:// only to this machine)")
    return addresses


def _loopback(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def check_target(url: str, policy: NetworkPolicy) -> None:
    resolve(check_url(url), policy)


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: the receiver's status code, or why there was none."""

    status: int | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    policy: NetworkPolicy,
    *,
    timeout: float,
) -> Attempt:
    """POST ``body`` to the receiver; never raises for what the network or receiver does."""
    try:
        parts = check_url(url)
        address = resolve(parts, policy)[0]
    except UnsafeTarget as exc:
        return Attempt(error=f"refused: {exc}")
    host = parts.hostname or ""
    pinned = f"[{address}]" if address.version == 6 else str(address)
    netloc = pinned if parts.port is None else f"{pinned}:{parts.port}"
    target = parts._replace(netloc=netloc).geturl()
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    request_headers = {
        **headers,
        "Host": host_header,
        "Content-Type": "application/json",
        "User-Agent": "Ostiary-Webhooks",
    }
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            response = client.post(
                target, content=body, headers=request_headers, extensions=extensions
            )
    except httpx.HTTPError as exc:
        return Attempt(error=f"{type(exc).__name__}: {exc}"[:1000])
    if 200 <= response.status_code < 300:
        return Attempt(status=response.status_code)
    what = "a redirect, not followed" if response.is_redirect else "not a 2xx answer"
    return Attempt(status=response.status_code, error=what)
