"""Braintree transactions and payment methods as kassa's neutral objects.

Status mapping::

    authorizing, authorized                     -> requires_capture
    submitted_for_settlement, settling,
    settlement_pending, settled,
    settlement_confirmed                        -> succeeded (amount captured = its amount)
    voided, authorization_expired               -> canceled
    voided after submitted_for_settlement       -> succeeded, refunded in full (the adapter
                                                   voids a capture to refund it whole
                                                   before it settles)
    processor_declined, gateway_rejected,
    failed, settlement_declined                 -> failed (with a decline code)

Braintree replaces a transaction's ``amount`` with the settled amount when less than the
authorization is submitted for settlement; the authorized amount stays in its status history.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kassa.core.currencies import exponent
from kassa.core.money import Money
from kassa.providers.base import (
    ChargeResult,
    MethodDetails,
    PaymentStatus,
    ProviderPayment,
    RefundStatus,
)
from kassa.providers.braintree.codes import GATEWAY_REJECTIONS, decline_code_for

STATUSES: dict[str, PaymentStatus] = {
    "authorizing": "requires_capture",
    "authorized": "requires_capture",
    "submitted_for_settlement": "succeeded",
    "settling": "succeeded",
    "settlement_pending": "succeeded",
    "settled": "succeeded",
    "settlement_confirmed": "succeeded",
    "voided": "canceled",
    "authorization_expired": "canceled",
    "processor_declined": "failed",
    "gateway_rejected": "failed",
    "failed": "failed",
    "settlement_declined": "failed",
    "settlement_failed": "failed",
}
# Statuses of a transaction the processor accepted (the ones duplicate checking protects).
ACCEPTED = frozenset(status for status, kassa in STATUSES.items() if kassa != "failed") - {
    "authorization_expired"
}

REFUND_STATUSES: dict[str, RefundStatus] = {
    "submitted_for_settlement": "succeeded",
    "settling": "succeeded",
    "settlement_pending": "succeeded",
    "settled": "succeeded",
    "settlement_confirmed": "succeeded",
    "authorized": "pending",
    "authorizing": "pending",
}

BRANDS = {
    "visa": "visa",
    "mastercard": "mastercard",
    "american express": "amex",
    "discover": "discover",
    "jcb": "jcb",
    "maestro": "maestro",
    "unionpay": "unionpay",
    "diners club": "diners",
}


# A capture not yet settled can still be voided: the adapter's refund of its whole amount.
VOIDABLE = frozenset({"submitted_for_settlement", "settlement_pending"})


def captured_then_voided(transaction: Any) -> bool:
    """Voided after it was submitted for settlement: captured, then given back whole."""
    return str(transaction.status) == "voided" and any(
        getattr(event, "status", None) in VOIDABLE
        for event in getattr(transaction, "status_history", None) or []
    )


def payment_status(transaction: Any) -> PaymentStatus:
    if captured_then_voided(transaction):
        return "succeeded"  # and refunded in full (see provider_payment)
    return STATUSES.get(str(transaction.status), "failed")


def refund_status(transaction: Any) -> RefundStatus:
    return REFUND_STATUSES.get(str(transaction.status), "failed")


def to_amount(money: Money) -> str:
    """Braintree's decimal string for ``money`` (the merchant account sets the currency)."""
    return money.to_decimal_string()


def to_money(value: Decimal | str, currency: str) -> Money:
    scaled = Decimal(value).scaleb(exponent(currency.upper()))
    return Money(int(scaled.to_integral_exact()), currency)


def currency_of(transaction: Any, fallback: str) -> str:
    return str(getattr(transaction, "currency_iso_code", None) or fallback)


def authorized_amount(transaction: Any, currency: str) -> Money:
    """What was authorized: the ``authorized`` entry of its history, else its amount."""
    for event in getattr(transaction, "status_history", None) or []:
        if getattr(event, "status", None) == "authorized":
            return to_money(event.amount, currency)
    return to_money(transaction.amount, currency)


def method_details(transaction_or_method: Any) -> MethodDetails | None:
    card = getattr(transaction_or_method, "credit_card_details", None)
    if card is None and hasattr(transaction_or_method, "last_4"):
        card = transaction_or_method  # a vaulted CreditCard
    if card is not None and getattr(card, "last_4", None):
        brand = str(getattr(card, "card_type", "") or "").lower()
        return MethodDetails(
            type="card",
            brand=BRANDS.get(brand, brand or None),
            last4=str(card.last_4),
            exp_month=_int(getattr(card, "expiration_month", None)),
            exp_year=_int(getattr(card, "expiration_year", None)),
        )
    paypal = getattr(transaction_or_method, "paypal_details", None)
    if paypal is not None or hasattr(transaction_or_method, "email"):
        return MethodDetails(type="wallet", wallet="paypal")
    return None


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def charge_result(provider: str, transaction: Any, currency: str) -> ChargeResult:
    code = currency_of(transaction, currency)
    status = payment_status(transaction)
    zero = Money.zero(code)
    return ChargeResult(
        provider=provider,
        provider_payment_id=str(transaction.id),
        status=status,
        amount=authorized_amount(transaction, code),
        amount_captured=to_money(transaction.amount, code) if status == "succeeded" else zero,
        method=method_details(transaction),
    )


def decline_code(transaction: Any) -> str | None:
    status = str(transaction.status)
    if status == "gateway_rejected":
        return GATEWAY_REJECTIONS.get(str(transaction.gateway_rejection_reason), "generic_decline")
    if status == "settlement_declined":
        return "settlement_declined"
    if payment_status(transaction) == "failed":
        return decline_code_for(getattr(transaction, "processor_response_code", None))
    return None


def provider_payment(
    provider: str, transaction: Any, refunds: list[Any], currency: str
) -> ProviderPayment:
    code = currency_of(transaction, currency)
    charged = charge_result(provider, transaction, code)
    refunded = charged.amount_captured if captured_then_voided(transaction) else Money.zero(code)
    for refund in refunds:
        if refund_status(refund) != "failed":
            refunded = refunded + to_money(refund.amount, code)
    return ProviderPayment(
        provider=provider,
        provider_payment_id=charged.provider_payment_id,
        status=charged.status,
        amount=charged.amount,
        amount_captured=charged.amount_captured,
        amount_refunded=refunded,
        decline_code=decline_code(transaction),
        method=charged.method,
    )


def is_duplicate_rejection(transaction: Any) -> bool:
    """Braintree's duplicate checking refused it: an accepted sale like it exists."""
    return (
        str(transaction.status) == "gateway_rejected"
        and getattr(transaction, "gateway_rejection_reason", None) == "duplicate"
    )


def pick_sale(transactions: list[Any]) -> Any | None:
    """The sale an order id names: the one the processor accepted (a duplicate-rejected
    retry carries the same order id), else the latest attempt."""
    accepted = [t for t in transactions if str(t.status) in ACCEPTED]
    if accepted:
        return min(accepted, key=lambda t: t.created_at)
    return max(transactions, key=lambda t: t.created_at) if transactions else None
