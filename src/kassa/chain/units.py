"""USD amounts as token base units, exactly (never through floats).

A stablecoin with ``decimals`` d counts 10**d base units per dollar: 1.00 USD is 1,000,000
units of USDC (6 decimals). USD's minor unit is the cent, so cents scale by 10**(d - 2); a
token with fewer than 2 decimals cannot hold every cent amount and is refused.
"""

from __future__ import annotations

from kassa.core.errors import InvalidRequest
from kassa.core.money import Money

USD_DECIMALS = 2


def usd_to_base_units(amount: Money, decimals: int) -> int:
    if amount.currency != "USD":
        raise InvalidRequest(f"Stablecoin amounts are priced in USD, not {amount.currency}.")
    if decimals < USD_DECIMALS:
        raise InvalidRequest(f"A token with {decimals} decimals cannot hold cent amounts.")
    scale: int = 10 ** (decimals - USD_DECIMALS)
    return amount.minor * scale


def base_units_to_text(units: int, decimals: int) -> str:
    """``1500000`` with 6 decimals is ``"1.500000"``: what a wallet shows, exactly."""
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), 10**decimals)
    return f"{sign}{whole}.{fraction:0{decimals}d}" if decimals else f"{sign}{whole}"
