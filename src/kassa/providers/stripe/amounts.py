"""kassa's minor units (ISO 4217 exponents, core/currencies.py) to Stripe's ``amount`` and back.

Stripe's unit is not always ISO's minor unit (docs.stripe.com/currencies):

- zero-decimal currencies (JPY, KRW, ... and MGA, whose ISO exponent is 2) take whole units;
- ISK is zero-decimal at ISO but stays two-decimal at Stripe: amounts are ×100 and must be
  whole krónur;
- three-decimal currencies (BHD, JOD, KWD, OMR, TND) take thousandths whose last digit is 0.

An amount Stripe cannot represent is refused before anything is sent.
"""

from __future__ import annotations

from kassa.core.currencies import exponent
from kassa.core.money import Money
from kassa.providers.base import PermanentProviderError
from kassa.providers.errors import PROVIDER_REJECTED

ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
TWO_DECIMAL_AT_STRIPE = frozenset({"ISK"})
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def stripe_exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    if currency in TWO_DECIMAL_AT_STRIPE:
        return 2
    return exponent(currency)


def to_stripe(amount: Money, provider: str = "stripe") -> int:
    """Stripe's ``amount`` for ``amount``; PermanentProviderError if Stripe cannot take it."""
    shift = stripe_exponent(amount.currency) - exponent(amount.currency)
    if shift >= 0:
        value = amount.minor * int(10**shift)
    else:
        value, rest = divmod(amount.minor, 10**-shift)
        if rest:
            raise PermanentProviderError(
                f"Stripe takes {amount.currency} in whole units; {amount} has a fraction.",
                provider=provider,
                code=PROVIDER_REJECTED.code,
            )
    if amount.currency in THREE_DECIMAL and value % 10:
        raise PermanentProviderError(
            f"Stripe takes {amount.currency} amounts whose last digit is 0; got {amount}.",
            provider=provider,
            code=PROVIDER_REJECTED.code,
        )
    return value


def from_stripe(value: int, currency: str) -> Money:
    """A Stripe ``amount`` (and its lower-case ``currency``) as kassa's Money."""
    code = currency.upper()
    shift = stripe_exponent(code) - exponent(code)
    minor = value * 10**-shift if shift <= 0 else value // 10**shift
    return Money(minor, code)
