"""The commission rules: which rate applies to an event, and what it earns.

Rates are integer basis points; an amount is ``Money.multiply`` by ``bps / 10000`` rounded
half up to a whole minor unit of the event's currency (so yen round to yen, dinars to fils).
A negative adjustment is the same computation negated, so a full refund takes back exactly
what the sale earned.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from kassa.core.money import Money
from kassa.payouts.models import Affiliate

ROUNDING = ROUND_HALF_UP
BPS = Decimal(10_000)

# subscription event type -> the commission it earns (refunds and chargebacks adjust)
KIND_OF = {
    "new": "new_subscription",
    "renewal": "renewal",
    "upgrade": "upgrade",
    "payment": "one_time",
}
ADJUSTING = frozenset({"refund", "chargeback"})
TYPES = (*KIND_OF, "cancellation", *sorted(ADJUSTING))


def rate_for(affiliate: Affiliate, tier: str | None) -> int:
    """The affiliate's rate for a subscription tier: its tier rate, else its default rate."""
    if tier is not None and tier in affiliate.tier_rates:
        return int(affiliate.tier_rates[tier])
    return affiliate.rate_bps


def earned(amount: Money, rate_bps: int) -> Money:
    return amount.multiply(Decimal(rate_bps) / BPS, rounding=ROUNDING)
