"""The install's default credentials (id ``default``), read from its environment settings."""

from __future__ import annotations

from kassa.core.settings import Settings
from kassa.providers.credentials import DEFAULT, Credentials


def _secret(value: object) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter else str(value or "")


def _fields(**values: object) -> dict[str, str]:
    return {name: _secret(value) for name, value in values.items() if value}


def default_credentials(settings: Settings) -> dict[str, Credentials]:
    """By provider kind, the credentials the settings give (none for a kind left unset)."""
    found: dict[str, Credentials] = {}
    if settings.stripe_secret_key is not None:
        key = settings.stripe_secret_key.get_secret_value()
        found["stripe"] = Credentials(
            DEFAULT,
            "stripe",
            livemode=key.startswith(("sk_live_", "rk_live_")),
            fields=_fields(
                secret_key=settings.stripe_secret_key,
                webhook_secret=settings.stripe_webhook_secret,
                api_base=settings.stripe_api_base,
            ),
        )
    if settings.paypal_client_id:
        found["paypal"] = Credentials(
            DEFAULT,
            "paypal",
            livemode=settings.paypal_environment == "live",
            fields=_fields(
                client_id=settings.paypal_client_id,
                client_secret=settings.paypal_client_secret,
                webhook_id=settings.paypal_webhook_id,
                environment=settings.paypal_environment,
                api_base=settings.paypal_api_base,
            ),
        )
    if settings.braintree_merchant_id:
        found["braintree"] = Credentials(
            DEFAULT,
            "braintree",
            livemode=settings.braintree_environment == "production",
            fields=_fields(
                merchant_id=settings.braintree_merchant_id,
                public_key=settings.braintree_public_key,
                private_key=settings.braintree_private_key,
                environment=settings.braintree_environment,
                api_base=settings.braintree_api_base,
            ),
        )
    return found
