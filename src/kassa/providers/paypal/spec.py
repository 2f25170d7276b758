"""What PayPal credentials are, and the adapter built from them."""

from __future__ import annotations

from collections.abc import Mapping

from kassa.core.errors import ConfigurationError
from kassa.core.settings import Settings
from kassa.providers.credentials import Credentials, CredentialsSpec
from kassa.providers.defaults import default_credentials
from kassa.providers.paypal.client import LIVE, SANDBOX, PayPalClient
from kassa.providers.paypal.provider import PayPalProvider

ENVIRONMENTS = ("sandbox", "live")


def is_live(fields: Mapping[str, str]) -> bool:
    return fields.get("environment") == "live"


def api_base(fields: Mapping[str, str]) -> str:
    """``api_base`` when given (tests, a proxy), else PayPal's host for the environment."""
    return fields.get("api_base") or (LIVE if is_live(fields) else SANDBOX)


def build(name: str, credentials: Credentials) -> PayPalProvider:
    fields = credentials.fields
    client = PayPalClient(
        provider=name,
        client_id=fields["client_id"],
        client_secret=fields["client_secret"],
        api_base=api_base(fields),
    )
    return PayPalProvider(name, client)


SPEC = CredentialsSpec(
    kind="paypal",
    required=("client_id", "client_secret"),
    optional=("webhook_id", "environment", "api_base"),
    secret=("client_secret",),
    livemode=is_live,
    build=build,
    choices={"environment": ENVIRONMENTS},
)


def from_settings(name: str, settings: Settings) -> PayPalProvider:
    """The install's PayPal (``KASSA_PAYPAL_*``), as a registry factory: refused at start
    with what is missing rather than at the first payment."""
    found = default_credentials(settings).get("paypal")
    problems = SPEC.problems(found.fields) if found else ["client_id is required"]
    if found is None or problems:
        raise ConfigurationError(
            f"Provider {name!r} (PayPal) cannot work: {'; '.join(problems)} "
            "(set KASSA_PAYPAL_CLIENT_ID and KASSA_PAYPAL_CLIENT_SECRET)."
        )
    return build(name, found)
