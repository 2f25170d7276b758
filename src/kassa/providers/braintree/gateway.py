"""The SDK's gateway object for one set of credentials, built once.

``environment`` picks Braintree's sandbox or production; ``api_base`` (``http://host:port``)
points the SDK at another server speaking the same protocol (the tests' stand-in). The SDK
talks plain HTTP to any port but 443, so an ``https`` base must use port 443.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kassa.core.errors import ConfigurationError
from kassa.providers.braintree.sdk import braintree

ENVIRONMENTS = ("sandbox", "production")


def environment(name: str, api_base: str | None) -> Any:
    """The SDK ``Environment`` for ``name``, or a custom one serving ``api_base``."""
    if not api_base:
        if name == "production":
            return braintree.Environment.Production
        return braintree.Environment.Sandbox
    parts = urlsplit(api_base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError("The Braintree api_base must be an http(s)://host:port URL.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.scheme == "https" and port != 443:
        raise ConfigurationError("An https Braintree api_base must use port 443.")
    return braintree.Environment(
        f"kassa_{name}",
        parts.hostname,
        str(port),
        api_base,
        parts.scheme == "https",
        True if parts.scheme == "https" else None,  # https: the system's CA bundle
    )


def build_gateway(
    *,
    merchant_id: str,
    public_key: str,
    private_key: str,
    environment_name: str = "sandbox",
    api_base: str | None = None,
    timeout: float = 20.0,
) -> Any:
    """A ``BraintreeGateway``: its HTTP strategy keeps one connection pool per thread."""
    config = braintree.Configuration(
        environment(environment_name, api_base),
        merchant_id=merchant_id,
        public_key=public_key,
        private_key=private_key,
        timeout=timeout,
        wrap_http_exceptions=True,  # requests' errors become braintree's own (see failures)
    )
    return braintree.BraintreeGateway(config)
