"""The pay-in event types, declared in the catalog with examples."""

from __future__ import annotations

from typing import Any

from kassa.jobs.catalog import declare_event

_PAYMENT: dict[str, Any] = {
    "id": "pay_01JD2X8Q0Y3V7K2M4N6P8R0T2W",
    "object": "payment",
    "status": "succeeded",
    "amount": {"value": "100.00", "currency": "USD"},
    "amount_captured": {"value": "100.00", "currency": "USD"},
    "amount_refunded": {"value": "0.00", "currency": "USD"},
    "provider": "mock",
    "provider_payment_id": "mockpi_5f0c7e1d2a3b4c5d6e7f8a9b",
    "livemode": False,
}
_REFUND: dict[str, Any] = {
    "id": "re_01JD2X9A1B2C3D4E5F6G7H8J9K",
    "object": "refund",
    "payment_id": _PAYMENT["id"],
    "status": "succeeded",
    "amount": {"value": "25.00", "currency": "USD"},
    "livemode": False,
}

PAYMENT_EVENTS = {
    "payment.created": "A payment was created (status pending).",
    "payment.processing": "A provider call for the payment is in flight.",
    "payment.requires_capture": "The payment is authorized and waits for capture.",
    "payment.succeeded": "The payment was captured.",
    "payment.failed": "The payment failed (declined or refused); see failure_code.",
    "payment.canceled": "The payment was canceled; any authorization was released.",
    "payment.refunded": "Part or all of the payment was refunded (see amount_refunded).",
}
REFUND_EVENTS = {
    "refund.created": "A refund was requested.",
    "refund.succeeded": "The provider refunded the amount.",
    "refund.failed": "The provider refused the refund; see failure_code.",
}


def declare() -> None:
    for name, description in PAYMENT_EVENTS.items():
        status = name.split(".", 1)[1]
        example = {**_PAYMENT, "status": "pending" if status == "created" else status}
        declare_event(name, description, example)
    for name, description in REFUND_EVENTS.items():
        status = name.split(".", 1)[1]
        declare_event(
            name, description, {**_REFUND, "status": "pending" if status == "created" else status}
        )


declare()
