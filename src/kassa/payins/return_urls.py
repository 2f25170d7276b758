"""Where a provider sends the customer back after a redirect action (``return_url``).

kassa never calls this URL (the customer's browser does), so unlike a webhook target it may be
any public or private host; what is checked is that it is an absolute https URL, so a
customer is never sent back over plain http. Plain http is accepted only to a loopback host
(``localhost``, ``127.0.0.1``, ``[::1]``), in test mode, in development: a shop running on
the developer's machine.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from kassa.payins.errors import INVALID_RETURN_URL
from kassa.webhooks.outbound.targets import literal_ip

MAX_LENGTH = 2048


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    ip = literal_ip(host)
    return ip is not None and ipaddress.ip_address(ip).is_loopback


def check_return_url(url: str, *, livemode: bool, development: bool) -> str:
    """``url`` as stored, or raise ``invalid_return_url`` (param ``return_url``)."""
    url = url.strip()
    if len(url) > MAX_LENGTH:
        raise INVALID_RETURN_URL(
            f"The URL is longer than {MAX_LENGTH} characters.", param="return_url"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise INVALID_RETURN_URL(f"The URL is malformed: {exc}.", param="return_url") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise INVALID_RETURN_URL("The URL must be an absolute https:// URL.", param="return_url")
    if parts.username or parts.password:
        raise INVALID_RETURN_URL("The URL must not carry credentials.", param="return_url")
    if parts.scheme == "http" and not (_loopback(parts.hostname) and development and not livemode):
        raise INVALID_RETURN_URL(
            "The URL must use https (http is accepted only to localhost, with a test key, "
            "when KASSA_ENV=development).",
            param="return_url",
        )
    return url
