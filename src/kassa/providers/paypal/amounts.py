"""Money to PayPal's amount objects and back, exactly (decimal strings, never floats).

PayPal writes amounts as ``{"currency_code": "USD", "value": "10.99"}`` with the currency's
decimals, except for the currencies it takes without decimals although ISO 4217 gives them
two (HUF, TWD): those are sent as whole units, and an amount with a fraction is refused here
rather than by PayPal (``DECIMALS_NOT_SUPPORTED``).
"""

from __future__ import annotations

from collections.abc import Mapping

from kassa.core.currencies import exponent
from kassa.core.money import Money
from kassa.providers.base import PermanentProviderError
from kassa.providers.errors import PROVIDER_REJECTED

# PayPal's currency codes that take no decimals whatever ISO 4217 says.
WHOLE_UNITS = frozenset({"HUF", "JPY", "TWD"})


def to_paypal(amount: Money, *, provider: str) -> dict[str, str]:
    currency = amount.currency
    if currency not in WHOLE_UNITS:
        return {"currency_code": currency, "value": amount.to_decimal_string()}
    scale = 10 ** exponent(currency)
    if amount.minor % scale:
        raise PermanentProviderError(
            f"PayPal takes {currency} amounts in whole units; {amount} has a fraction.",
            provider=provider,
            code=PROVIDER_REJECTED.code,
        )
    return {"currency_code": currency, "value": str(amount.minor // scale)}


def from_paypal(amount: Mapping[str, object]) -> Money:
    """PayPal's amount as Money (``"100"`` HUF is 10000 minor units)."""
    return Money.parse(str(amount["value"]), str(amount["currency_code"]))
