"""The PayPal adapter (Orders v2 and Payments v2 over httpx). Importing it registers the
``paypal`` credentials spec (see provider.py for how PayPal payments map onto kassa's)."""

from kassa.providers.credentials import register_spec
from kassa.providers.paypal.client import LIVE, SANDBOX, PayPalClient
from kassa.providers.paypal.provider import PayPalProvider
from kassa.providers.paypal.spec import SPEC, from_settings

register_spec(SPEC)

__all__ = ["LIVE", "SANDBOX", "SPEC", "PayPalClient", "PayPalProvider", "from_settings"]
