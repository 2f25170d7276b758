"""Which URLs kassa may POST to: https to public addresses only, unless explicitly allowed.

Checked twice: when an endpoint is saved (``check_url``) and on every delivery, where the
HTTP client's resolver (``GuardedResolver``) drops non-public addresses after DNS resolution
and connects only to an address it checked, so a name that later resolves to 127.0.0.1 or
169.254.169.254 is refused too. ``KASSA_WEBHOOK_ALLOW_PRIVATE=true`` lifts both (development).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from aiohttp import ThreadedResolver
from aiohttp.abc import AbstractResolver, ResolveResult

from kassa.core.errors import InvalidRequest
from kassa.webhooks.outbound.errors import INVALID_WEBHOOK_URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".localdomain")


class TargetRefused(OSError):
    """The target resolves to an address kassa may not call."""


def is_public(address: str) -> bool:
    """Globally routable unicast only: not private, loopback, link-local, reserved, multicast."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


# Every refusal of a private target names the setting that lifts it, so a developer trying
# kassa against a local receiver knows what to set (the checks themselves are unchanged).
ALLOW_HINT = "set KASSA_WEBHOOK_ALLOW_PRIVATE=true to allow private targets in development"


def _invalid(message: str) -> InvalidRequest:
    return INVALID_WEBHOOK_URL(message, param="url")


def _private(message: str) -> InvalidRequest:
    return _invalid(f"{message}; kassa calls only public https targets ({ALLOW_HINT}).")


def parse_url(url: str, *, allow_private: bool, livemode: bool) -> SplitResult:
    """Syntax and scheme: https, or http only where private targets are allowed (not live)."""
    if len(url) > 2048:
        raise _invalid("The URL is longer than 2048 characters.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise _invalid(f"The URL is malformed: {exc}.") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _invalid("The URL must be an absolute https:// URL.")
    if parts.scheme == "http" and (livemode or not allow_private):
        raise _invalid(
            "The URL must use https (http is accepted only in test mode with "
            "KASSA_WEBHOOK_ALLOW_PRIVATE=true)."
        )
    if parts.username or parts.password:
        raise _invalid("The URL must not carry credentials; authenticate with the signature.")
    if port == 0:
        raise _invalid("The URL's port is invalid.")
    return parts


async def check_url(url: str, *, allow_private: bool, livemode: bool) -> str:
    """Refuse URLs kassa must not call; returns the URL as stored."""
    parts = parse_url(url, allow_private=allow_private, livemode=livemode)
    if allow_private:
        return url.strip()
    host = parts.hostname or ""
    if literal_ip(host) is not None:
        if not is_public(host):
            raise _private(f"{host} is a private, loopback or link-local address")
        return url.strip()
    if host == "localhost" or host.endswith(_LOCAL_NAMES):
        raise _private(f"{host} is a local name")
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(
                host, parts.port or 443, type=socket.SOCK_STREAM
            ),
            timeout=5,
        )
    except (OSError, TimeoutError):
        return url.strip()  # not resolvable yet: each delivery checks again when it is
    refused = sorted({str(info[4][0]) for info in infos if not is_public(str(info[4][0]))})
    if refused:
        raise _private(f"{host} resolves to a non-public address ({', '.join(refused)})")
    return url.strip()


def check_literal_target(host: str, *, allow_private: bool) -> None:
    """aiohttp does not resolve IP literals, so they are checked before the request."""
    if not allow_private and literal_ip(host) is not None and not is_public(host):
        raise TargetRefused(f"refused: {host} is not a public address ({ALLOW_HINT})")


class GuardedResolver(AbstractResolver):
    """Resolves with the system resolver, then keeps only public addresses."""

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = ThreadedResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self._allow_private:
            return results
        allowed = [r for r in results if is_public(r["host"])]
        if not allowed:
            found = ", ".join(sorted({r["host"] for r in results}))
            raise TargetRefused(
                f"refused: {host.rstrip('.')} resolves to {found}, not public ({ALLOW_HINT})"
            )
        return allowed

    async def close(self) -> None:
        await self._inner.close()
