"""Stripe's test payment methods (docs.stripe.com/testing) and what charging each one does.

Decline codes are Stripe's own for these cards. Stripe documents no advice or network codes for
test cards; the ones given here are the card networks' codes for that reason (51 insufficient
funds, 41 lost, 43 stolen, 54 expired), so adapters have something real-shaped to carry.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    funding: str = "credit"
    country: str = "US"
    # What a charge does: None succeeds; else the error code ("card_declined", ...).
    error_code: str | None = None
    decline_code: str | None = None
    advice_code: str | None = None
    network_decline_code: str | None = None
    message: str = "Your card was declined."
    three_d_secure: bool = False  # the issuer asks for authentication (requires_action)


_DECLINED = "card_declined"

CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_visa_debit": TestCard("visa", "5556", funding="debit"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_amex": TestCard("amex", "8431"),
    "pm_card_chargeDeclined": TestCard(
        "visa", "0002", error_code=_DECLINED, decline_code="generic_decline"
    ),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa",
        "9995",
        error_code=_DECLINED,
        decline_code="insufficient_funds",
        advice_code="try_again_later",
        network_decline_code="51",
        message="Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedLostCard": TestCard(
        "visa",
        "9987",
        error_code=_DECLINED,
        decline_code="lost_card",
        advice_code="do_not_try_again",
        network_decline_code="41",
    ),
    "pm_card_chargeDeclinedStolenCard": TestCard(
        "visa",
        "9979",
        error_code=_DECLINED,
        decline_code="stolen_card",
        advice_code="do_not_try_again",
        network_decline_code="43",
    ),
    "pm_card_chargeDeclinedFraudulent": TestCard(
        "visa", "0019", error_code=_DECLINED, decline_code="fraudulent"
    ),
    "pm_card_chargeDeclinedExpiredCard": TestCard(
        "visa",
        "0069",
        error_code="expired_card",
        decline_code="expired_card",
        network_decline_code="54",
        message="Your card has expired.",
    ),
    "pm_card_chargeDeclinedIncorrectCvc": TestCard(
        "visa",
        "0127",
        error_code="incorrect_cvc",
        decline_code="incorrect_cvc",
        message="Your card's security code is incorrect.",
    ),
    "pm_card_chargeDeclinedProcessingError": TestCard(
        "visa",
        "0119",
        error_code="processing_error",
        decline_code="processing_error",
        message="An error occurred while processing your card. Try again in a little bit.",
    ),
    "pm_card_authenticationRequired": TestCard("visa", "3184", three_d_secure=True),
    "pm_card_threeDSecure2Required": TestCard("visa", "3220", three_d_secure=True),
    "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds": TestCard(
        "visa",
        "3178",
        error_code=_DECLINED,
        decline_code="insufficient_funds",
        advice_code="try_again_later",
        network_decline_code="51",
        message="Your card has insufficient funds.",
        three_d_secure=True,
    ),
}
