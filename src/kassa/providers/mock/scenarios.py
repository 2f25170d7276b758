"""Test-mode payment method tokens, like Stripe's, that make any outcome happen on purpose.

    token                           outcome
    pm_card_visa (mastercard, amex) succeeds
    pm_usBankAccount, pm_wallet_*   succeeds (bank account / wallet)
    pm_card_chargeDeclined          declined, generic_decline
    pm_card_insufficientFunds       declined, insufficient_funds
    pm_card_decline_<code>          declined with any decline code
    pm_card_timeout                 the charge happens, but the answer never arrives (timeout)
    pm_card_rateLimit               refused before processing (rate limit, transient; says
                                    nothing about the provider's health)
    pm_card_providerDown            refused before processing (HTTP 503, transient: an
                                    outage, counted by the circuit breaker)
    pm_card_partialFailure          1 in 5 idempotency keys declined (processing_error)
    pm_card_invalidPayee            refused permanently (invalid_payee)
    pm_card_delay_<ms>              succeeds after <ms> milliseconds
    pm_card_threeDSecure            waits for the customer (3-D Secure: requires_action with a
                                    client secret) until the customer acts
                                    (``MockProvider.complete_action``), then succeeds
    pm_card_threeDSecureFail        the same, but the challenge fails: declined,
                                    authentication_required

A ``_on_<provider>`` suffix limits the scenario to the provider of that name
(``pm_card_rateLimit_on_mock``): other providers treat the token like ``pm_card_visa``,
which is how failover is tried out.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from kassa.core.digits import ascii_digits
from kassa.providers.base import MethodDetails

Kind = Literal[
    "success",
    "decline",
    "timeout",
    "rate_limit",
    "provider_down",
    "partial_failure",
    "invalid_payee",
    "action",
    "unknown",
]

_CARDS = {
    "visa": ("visa", "4242"),
    "visa_debit": ("visa", "5556"),
    "mastercard": ("mastercard", "4444"),
    "amex": ("amex", "8431"),
    "discover": ("discover", "1117"),
}
_WALLETS = {"paypal", "applePay", "googlePay"}
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_FIXED = {
    "chargeDeclined": ("decline", "generic_decline", "0002"),
    "insufficientFunds": ("decline", "insufficient_funds", "9995"),
    "timeout": ("timeout", None, "0341"),
    "rateLimit": ("rate_limit", None, "0259"),
    "providerDown": ("provider_down", None, "0119"),
    "partialFailure": ("partial_failure", None, "3220"),
    "invalidPayee": ("invalid_payee", None, "0069"),
    "threeDSecure": ("action", None, "3184"),
    "threeDSecureFail": ("action", "authentication_required", "3063"),
}


@dataclass(frozen=True, slots=True)
class Scenario:
    kind: Kind
    method: MethodDetails | None
    decline_code: str | None = None  # for "action": the challenge fails with this code
    delay_ms: int = 0


def _card(brand: str, last4: str) -> MethodDetails:
    return MethodDetails(type="card", brand=brand, last4=last4, exp_month=12, exp_year=2034)


def parse_token(token: str, provider: str = "mock") -> Scenario:
    """The scenario a test-mode token selects on the provider named ``provider``."""
    base, sep, target = token.rpartition("_on_")
    if sep and base:
        if target != provider:
            inner = parse_token(base, provider)
            if inner.kind == "unknown":
                return inner
            return Scenario("success", inner.method or _card("visa", "4242"))
        token = base
    if token.startswith("tok_"):
        token = "pm_card_" + token[4:]
    if token == "pm_usBankAccount":
        return Scenario(
            "success", MethodDetails("bank_account", bank_name="TEST BANK", last4="6789")
        )
    if token.startswith("pm_wallet_") and token[len("pm_wallet_") :] in _WALLETS:
        return Scenario("success", MethodDetails("wallet", wallet=token[len("pm_wallet_") :]))
    if not token.startswith("pm_card_"):
        return Scenario("unknown", None)
    name = token[len("pm_card_") :]
    if name in _CARDS:
        return Scenario("success", _card(*_CARDS[name]))
    if name in _FIXED:
        kind, code, last4 = _FIXED[name]
        return Scenario(kind, _card("visa", last4), code)  # type: ignore[arg-type]
    if name.startswith("decline_") and _CODE_RE.match(name[len("decline_") :]):
        return Scenario("decline", _card("visa", "0002"), name[len("decline_") :])
    if name.startswith("delay_") and ascii_digits(name[len("delay_") :]):
        delay = min(int(name[len("delay_") :]), 3_600_000)
        return Scenario("success", _card("visa", "4242"), delay_ms=delay)
    return Scenario("unknown", None)


def fraction(*parts: str) -> float:
    """A stable number in [0, 1) from ``parts``: the mock's dice, the same in every process."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def stable_id(prefix: str, *parts: str) -> str:
    return f"{prefix}_{hashlib.sha256(chr(31).join(parts).encode()).hexdigest()[:24]}"
