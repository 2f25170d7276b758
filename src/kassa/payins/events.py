"""The pay-in event types, declared in the catalog with examples.

Each example is what that event really carries: the object rendered by the API's own models
(``PaymentOut``, ``RefundOut``) in the state the event announces, so the catalog (and
docs/webhooks.md generated from it) shows every field with values that fit that state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kassa.jobs.catalog import declare_event
from kassa.payins.models import Dispute, Payment, PaymentAttempt, Refund
from kassa.payins.views import dispute_json, payment_json, refund_json  # XOut as JSON

_PAY = "pay_01JD2X8Q0Y3V7K2M4N6P8R0T2W"
_CREATED = datetime(2026, 1, 27, 9, 59, 58, tzinfo=UTC)
_NOW = datetime(2026, 1, 27, 10, 0, 0, tzinfo=UTC)
_LATER = datetime(2026, 1, 27, 10, 5, 0, tzinfo=UTC)  # a cancel or refund, after authorizing
_CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}


def _payment(status: str, **changes: Any) -> Payment:
    """A 100.00 USD card payment through the mock provider, as created, then ``changes``."""
    values: dict[str, Any] = {
        "id": _PAY,
        "livemode": False,
        "status": status,
        "currency": "USD",
        "amount": 10000,
        "amount_capturable": 0,
        "amount_captured": 0,
        "amount_refunded": 0,
        "capture": True,
        "customer_id": "cus_01JD2X7M4N5P6Q7R8S9T0V1W2X",
        "payment_method_id": "pm_01JD2X7Q3R4S5T6V7W8X9Y0Z1A",
        "method_type": "card",
        "method_details": _CARD,
        "description": "Order #1042",
        "metadata_": {"order_id": "1042"},
        "provider": "mock",
        "provider_payment_id": None,
        "failure_code": None,
        "failure_message": None,
        "decline_code": None,
        "next_action": None,
        "return_url": None,
        "canceled_at": None,
        "created_at": _CREATED,
        "updated_at": _CREATED,
    }
    values.update(changes)
    return Payment(**values)


def _attempt(operation: str, outcome: str, **changes: Any) -> PaymentAttempt:
    values: dict[str, Any] = {
        "operation": operation,
        "provider": "mock",
        "idempotency_key": f"{_PAY}/{operation}",
        "outcome": outcome,
        "error_code": None,
        "error_message": None,
        "elapsed_ms": 84,
        "created_at": _NOW,
    }
    values.update(changes)
    return PaymentAttempt(**values)


_AUTHORIZED = _attempt("authorize", "succeeded")
_PROVIDER_ID = {"provider_payment_id": "mockpi_5f0c7e1d2a3b4c5d6e7f8a9b", "updated_at": _NOW}
_LATER_PROVIDER_ID = {**_PROVIDER_ID, "updated_at": _LATER}
_DECLINED = "The card was declined (insufficient_funds)."

# The payment as each event shows it, as GET would at that moment: with every attempt made
# for it so far. payment.refunded also fires for a full refund (status refunded,
# amount_refunded = amount_captured).
PAYMENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "payment.created": payment_json(_payment("pending")),
    "payment.processing": payment_json(_payment("processing")),
    # The client secret stays out of events (the API's answers to the merchant carry it).
    "payment.requires_action": payment_json(
        _payment(
            "requires_action",
            next_action={
                "type": "use_sdk",
                "use_sdk": {"client_secret": "mockpi_5f0c7e1d2a3b4c5d6e7f8a9b_secret_3c1e"},
            },
            return_url="https://shop.example.com/orders/1042/return",
            **_PROVIDER_ID,
        ),
        [_attempt("authorize", "requires_action")],
    ),
    "payment.requires_capture": payment_json(
        _payment("requires_capture", capture=False, amount_capturable=10000, **_PROVIDER_ID),
        [_AUTHORIZED],
    ),
    "payment.succeeded": payment_json(
        _payment("succeeded", amount_captured=10000, **_PROVIDER_ID), [_AUTHORIZED]
    ),
    "payment.failed": payment_json(
        _payment(
            "failed",
            failure_code="card_declined",
            failure_message=_DECLINED,
            decline_code="insufficient_funds",
            **_PROVIDER_ID,
        ),
        [
            _attempt(
                "authorize",
                "declined",
                error_code="insufficient_funds",
                error_message=_DECLINED,
            )
        ],
    ),
    "payment.canceled": payment_json(
        _payment("canceled", capture=False, canceled_at=_LATER, **_LATER_PROVIDER_ID),
        [_AUTHORIZED, _attempt("cancel", "canceled", created_at=_LATER)],
    ),
    "payment.refunded": payment_json(
        _payment(
            "partially_refunded",
            amount_captured=10000,
            amount_refunded=2500,
            **_LATER_PROVIDER_ID,
        ),
        [
            _AUTHORIZED,
            _attempt(
                "refund",
                "succeeded",
                idempotency_key="re_01JD2X9A1B2C3D4E5F6G7H8J9K",
                created_at=_LATER,
            ),
        ],
    ),
}


def _refund(status: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "re_01JD2X9A1B2C3D4E5F6G7H8J9K",
        "livemode": False,
        "payment_id": _PAY,
        "status": status,
        "currency": "USD",
        "amount": 2500,
        "reason": "requested_by_customer",
        "metadata_": {},
        "provider": "mock",
        "provider_refund_id": None,
        "failure_code": None,
        "failure_message": None,
        "created_at": _LATER,
        "updated_at": _LATER,
    }
    values.update(changes)
    return refund_json(Refund(**values))


REFUND_EXAMPLES: dict[str, dict[str, Any]] = {
    "refund.created": _refund("pending"),
    "refund.succeeded": _refund("succeeded", provider_refund_id="mockre_9a8b7c6d5e4f3a2b1c0d9e8f"),
    "refund.failed": _refund(
        "failed",
        failure_code="charge_already_refunded",
        failure_message="The charge has already been refunded.",
    ),
}


def _dispute(status: str, **changes: Any) -> dict[str, Any]:
    """A Stripe chargeback of the whole example payment, as kassa shows it."""
    values: dict[str, Any] = {
        "id": "dp_01JD2XB2C3D4E5F6G7H8J9K0M1",
        "account_id": "acct_01JD2X6A1B2C3D4E5F6G7H8J9K",
        "livemode": False,
        "payment_id": _PAY,
        "provider": "stripe",
        "provider_dispute_id": "du_1Pgc71B7WZ01zgkWMevJiAUx",
        "status": status,
        "currency": "USD",
        "amount": 10000,
        "reason": "fraudulent",
        "evidence_due_by": datetime(2026, 2, 6, 23, 59, 59, tzinfo=UTC),
        "closed_at": None,
        "created_at": _LATER,
        "updated_at": _LATER,
    }
    values.update(changes)
    return dispute_json(Dispute(**values))


_CLOSED = datetime(2026, 2, 20, 12, 0, 0, tzinfo=UTC)
DISPUTE_EXAMPLES: dict[str, dict[str, Any]] = {
    "dispute.created": _dispute("needs_response"),
    "dispute.updated": _dispute("under_review", updated_at=_CLOSED),
    "dispute.closed": _dispute("lost", closed_at=_CLOSED, updated_at=_CLOSED),
}

PAYMENT_EVENTS = {
    "payment.created": "A payment was created (status pending).",
    "payment.processing": "A provider call for the payment is in flight.",
    "payment.requires_action": "The payment waits for the customer (3-D Secure, PayPal "
    "approval): see next_action (its client secret is only in the API's answers, never in "
    "events); confirm it once the customer is back.",
    "payment.requires_capture": "The payment is authorized and waits for capture.",
    "payment.succeeded": "The payment was captured.",
    "payment.failed": "The payment failed (declined or refused); see failure_code.",
    "payment.canceled": "The payment was canceled; any authorization was released.",
    "payment.refunded": "Part or all of the payment was refunded (status partially_refunded or "
    "refunded; see amount_refunded).",
}
REFUND_EVENTS = {
    "refund.created": "A refund was requested.",
    "refund.succeeded": "The provider refunded the amount.",
    "refund.failed": "The provider refused the refund; see failure_code.",
}


DISPUTE_EVENTS = {
    "dispute.created": "A customer disputed a payment (its provider told kassa); the payment's "
    "dispute_id names it.",
    "dispute.updated": "An open dispute changed (status, amount, reason or evidence deadline).",
    "dispute.closed": "A dispute ended: won (the merchant keeps the money), lost (the customer "
    "got it back) or closed (no decision on the money).",
}


def declare() -> None:
    for name, description in PAYMENT_EVENTS.items():
        declare_event(name, description, PAYMENT_EXAMPLES[name])
    for name, description in REFUND_EVENTS.items():
        declare_event(name, description, REFUND_EXAMPLES[name])
    for name, description in DISPUTE_EVENTS.items():
        declare_event(name, description, DISPUTE_EXAMPLES[name])


declare()
