"""Payments and refunds as JSON values, for the use cases that hand them on as dicts (to an
event, to the API's answer, into an error's details): each is ``XOut.of(...)`` of
``kassa.payins.schemas``, so an event carries exactly what GET shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kassa.payins.models import Dispute, Payment, PaymentAttempt, Refund
from kassa.payins.schemas import DisputeOut, PaymentOut, RefundOut


def payment_json(
    payment: Payment, attempts: Sequence[PaymentAttempt] = (), *, client_secret: bool = False
) -> dict[str, Any]:
    """``client_secret``: for an answer to the merchant's key (events leave it out)."""
    return PaymentOut.of(payment, attempts, client_secret=client_secret).json_value()


def refund_json(refund: Refund) -> dict[str, Any]:
    return RefundOut.of(refund).json_value()


def dispute_json(dispute: Dispute) -> dict[str, Any]:
    return DisputeOut.of(dispute).json_value()
