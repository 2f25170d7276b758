"""PayPal's signing certificates: fetched only from PayPal's hosts, checked, cached.

``PAYPAL-CERT-URL`` comes from the request, so anyone can put any URL there: the URL must be
HTTPS on one of the allowed hosts (by default PayPal's API hosts, live and sandbox), so the
certificate is one PayPal serves over TLS and never one an attacker chose; and nothing else is
fetched (no request to an address the sender picks). A certificate outside its validity dates
is refused. Certificates are cached (a bounded number, each for at most ``ttl`` seconds and
never past its expiry): PayPal signs with the same one for months.

An allow-list entry is a host name (HTTPS only) or an origin ``scheme://host[:port]`` (tests
serve a self-signed certificate on loopback over plain HTTP).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

import httpx
from cryptography import x509

from kassa.webhooks.inbound.errors import INVALID_SIGNATURE

PAYPAL_CERT_HOSTS = (
    "api.paypal.com",
    "api-m.paypal.com",
    "api.sandbox.paypal.com",
    "api-m.sandbox.paypal.com",
)
CERT_PATH_PREFIX = "/v1/notifications/certs/"
MAX_CERT_BYTES = 65_536


class CertificateSource(Protocol):
    async def get(self, url: str, *, now: datetime) -> x509.Certificate: ...


def allowed(url: str, allow: Sequence[str]) -> bool:
    """Whether ``url`` is a certificate URL of an allowed host (see the module's doc)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.username or parts.password or parts.query or parts.fragment:
        return False
    if not parts.path.startswith(CERT_PATH_PREFIX) or ".." in parts.path:
        return False
    host = (parts.hostname or "").lower()
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    for entry in allow:
        entry = entry.strip().lower().rstrip("/")
        if "://" in entry:
            if origin == entry:
                return True
        elif parts.scheme == "https" and host == entry and port in (None, 443):
            return True
    return False


def check_validity(certificate: x509.Certificate, now: datetime) -> None:
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise INVALID_SIGNATURE("The PayPal certificate is expired or not yet valid.")


class PayPalCertificates:
    """The certificates of the allowed hosts, fetched once and cached."""

    def __init__(
        self,
        allow: Sequence[str] = PAYPAL_CERT_HOSTS,
        *,
        ttl: float = 3600.0,
        max_entries: int = 32,
        timeout: float = 10.0,
    ) -> None:
        self.allow = tuple(allow)
        self.ttl = timedelta(seconds=ttl)
        self.max_entries = max_entries
        self.timeout = timeout
        self._cache: OrderedDict[str, tuple[x509.Certificate, datetime]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, url: str, *, now: datetime) -> x509.Certificate:
        if not allowed(url, self.allow):
            raise INVALID_SIGNATURE("PAYPAL-CERT-URL is not a certificate URL of PayPal.")
        cached = self._cached(url, now)
        if cached is None:
            lock = self._locks.setdefault(url, asyncio.Lock())
            async with lock:  # one fetch per URL, however many deliveries wait on it
                cached = self._cached(url, now) or await self._fetch(url, now)
            self._locks.pop(url, None)
        check_validity(cached, now)
        return cached

    def _cached(self, url: str, now: datetime) -> x509.Certificate | None:
        found = self._cache.get(url)
        if found is None:
            return None
        certificate, until = found
        if now >= until:
            del self._cache[url]
            return None
        self._cache.move_to_end(url)
        return certificate

    async def _fetch(self, url: str, now: datetime) -> x509.Certificate:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
                response = await http.get(url)
        except httpx.HTTPError:
            raise INVALID_SIGNATURE("The PayPal certificate could not be fetched.") from None
        if response.status_code != 200 or len(response.content) > MAX_CERT_BYTES:
            raise INVALID_SIGNATURE("The PayPal certificate could not be fetched.")
        try:
            certificate = x509.load_pem_x509_certificates(response.content)[0]
        except ValueError:
            raise INVALID_SIGNATURE("PAYPAL-CERT-URL does not serve a certificate.") from None
        check_validity(certificate, now)
        until = min(now + self.ttl, certificate.not_valid_after_utc)
        self._cache[url] = (certificate, until)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return certificate
