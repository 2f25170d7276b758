"""Objects as the API shows them; events carry exactly these too."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kassa.core.money import Money
from kassa.payins.models import Customer, Payment, PaymentAttempt, PaymentMethod, Refund


def _ts(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _money(minor: int, currency: str) -> dict[str, Any]:
    return Money(minor, currency).to_json()


def attempt_json(attempt: PaymentAttempt) -> dict[str, Any]:
    return {
        "operation": attempt.operation,
        "provider": attempt.provider,
        "idempotency_key": attempt.idempotency_key,
        "outcome": attempt.outcome,
        "error_code": attempt.error_code,
        "error_message": attempt.error_message,
        "elapsed_ms": attempt.elapsed_ms,
        "created_at": _ts(attempt.created_at),
    }


def payment_json(payment: Payment, attempts: Sequence[PaymentAttempt] = ()) -> dict[str, Any]:
    c = payment.currency
    method: dict[str, Any] | None = None
    if payment.method_type is not None:
        method = {
            "id": payment.payment_method_id,
            "type": payment.method_type,
            payment.method_type: payment.method_details,
        }
    return {
        "id": payment.id,
        "object": "payment",
        "status": payment.status,
        "amount": _money(payment.amount, c),
        "amount_capturable": _money(payment.amount_capturable, c),
        "amount_captured": _money(payment.amount_captured, c),
        "amount_refunded": _money(payment.amount_refunded, c),
        "capture": payment.capture,
        "customer_id": payment.customer_id,
        "payment_method": method,
        "description": payment.description,
        "metadata": payment.metadata_,
        "provider": payment.provider,
        "provider_payment_id": payment.provider_payment_id,
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "decline_code": payment.decline_code,
        "attempts": [attempt_json(a) for a in attempts],
        "livemode": payment.livemode,
        "canceled_at": _ts(payment.canceled_at),
        "created_at": _ts(payment.created_at),
        "updated_at": _ts(payment.updated_at),
    }


def refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "object": "refund",
        "payment_id": refund.payment_id,
        "status": refund.status,
        "amount": _money(refund.amount, refund.currency),
        "reason": refund.reason,
        "metadata": refund.metadata_,
        "provider": refund.provider,
        "provider_refund_id": refund.provider_refund_id,
        "failure_code": refund.failure_code,
        "failure_message": refund.failure_message,
        "livemode": refund.livemode,
        "created_at": _ts(refund.created_at),
        "updated_at": _ts(refund.updated_at),
    }


def payment_method_json(method: PaymentMethod) -> dict[str, Any]:
    return {
        "id": method.id,
        "object": "payment_method",
        "type": method.type,
        method.type: method.details,
        "customer_id": method.customer_id,
        "provider": method.provider,
        "metadata": method.metadata_,
        "livemode": method.livemode,
        "created_at": _ts(method.created_at),
        "updated_at": _ts(method.updated_at),
    }


def customer_json(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "object": "customer",
        "email": customer.email,
        "name": customer.name,
        "description": customer.description,
        "metadata": customer.metadata_,
        "livemode": customer.livemode,
        "created_at": _ts(customer.created_at),
        "updated_at": _ts(customer.updated_at),
    }
