"""Capturing an authorized payment, fully or partly, crash-safe like creation.

Intent (``requires_capture`` -> ``processing`` with the amount) commits first; the provider is
called with the key ``pay_.../capture``; the answer is recorded in a new transaction. One
capture per payment, as with Stripe: what is not captured is released.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock
from kassa.core.db import transaction
from kassa.core.errors import InvalidMoney, InvalidRequest, InvalidStateTransition
from kassa.core.money import Money
from kassa.payins import lifecycle
from kassa.payins.errors import PaymentDeclined, ProviderUnavailable
from kassa.payins.gateway import Outcome, call_one
from kassa.payins.models import Payment
from kassa.payins.repository import attempts_for, get_owned, lock_payment
from kassa.payins.state import PROCESSING, REQUIRES_CAPTURE, SUCCEEDED
from kassa.payins.views import payment_json
from kassa.providers.base import (
    CaptureRequest,
    ChargeResult,
    DeclinedError,
    TransientProviderError,
)
from kassa.providers.registry import ProviderRegistry


def capture_key(payment_id: str) -> str:
    return f"{payment_id}/capture"


def capture_request(payment: Payment) -> CaptureRequest:
    return CaptureRequest(
        idempotency_key=capture_key(payment.id),
        provider_payment_id=payment.provider_payment_id or "",
        amount=Money(payment.pending_amount or payment.amount_capturable, payment.currency),
    )


async def begin(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
    amount: Money | None,
) -> Payment:
    payment = await get_owned(
        session, Payment, payment_id, account_id=account_id, livemode=livemode, for_update=True
    )
    if payment.status != REQUIRES_CAPTURE:
        raise InvalidStateTransition(
            f"Only a payment that requires capture can be captured; this one is {payment.status}.",
            code="payment_not_capturable",
            details={"current_status": payment.status},
        )
    to_capture = amount or Money(payment.amount_capturable, payment.currency)
    if to_capture.currency != payment.currency:
        raise InvalidMoney(
            f"The payment is in {payment.currency}.",
            code="currency_mismatch",
            param="amount_to_capture.currency",
        )
    if not to_capture.is_positive():
        raise InvalidMoney("The amount must be greater than zero.", code="amount_must_be_positive")
    if to_capture.minor > payment.amount_capturable:
        raise InvalidRequest(
            f"At most {Money(payment.amount_capturable, payment.currency)} can be captured.",
            code="amount_too_large",
            param="amount_to_capture",
        )
    payment.pending_operation = "capture"
    payment.pending_amount = to_capture.minor
    lifecycle.transition(session, payment, PROCESSING)
    return payment


async def call(registry: ProviderRegistry, payment: Payment) -> Outcome[ChargeResult]:
    request = capture_request(payment)
    return await call_one(
        registry, payment.provider, lambda: registry.get(payment.provider).capture(request)
    )


async def record(
    session: AsyncSession, *, payment_id: str, outcome: Outcome[ChargeResult]
) -> Payment:
    payment = await lock_payment(session, payment_id)
    attempts = lifecycle.add_attempts(
        session,
        payment,
        operation="capture",
        idempotency_key=capture_key(payment.id),
        records=outcome.records,
        success="succeeded",
    )
    if payment.status != PROCESSING or payment.pending_operation != "capture":
        return payment
    if outcome.result is not None:
        payment.amount_captured = payment.pending_amount or 0
        payment.amount_capturable = 0
        payment.pending_operation = None
        payment.pending_amount = None
        lifecycle.transition(session, payment, SUCCEEDED, attempts=attempts)
    elif outcome.ambiguous:
        payment.updated_at = clock.now()  # reconciliation re-sends the same capture
    else:
        error = outcome.error
        assert error is not None
        payment.pending_operation = None
        payment.pending_amount = None
        payment.failure_code = error.code
        payment.failure_message = error.message[:500]
        lifecycle.transition(session, payment, REQUIRES_CAPTURE, attempts=attempts)
    return payment


async def capture_payment(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
    amount: Money | None,
) -> dict[str, object]:
    async with transaction(sessions) as session:
        payment = await begin(
            session, account_id=account_id, livemode=livemode, payment_id=payment_id, amount=amount
        )
    outcome = await call(registry, payment)
    async with transaction(sessions) as session:
        payment = await record(session, payment_id=payment_id, outcome=outcome)
        view = payment_json(payment, await attempts_for(session, payment_id))
    raise_for_error(outcome, payment_id)
    return view


def raise_for_error(outcome: Outcome[ChargeResult], payment_id: str) -> None:
    """After recording: a declined or refused call is the caller's error; ambiguous is not."""
    error = outcome.error
    if error is None or outcome.ambiguous:
        return
    details = {"payment_id": payment_id}
    if isinstance(error, DeclinedError):
        raise PaymentDeclined(
            error.message, details={**details, "decline_code": error.decline_code}
        )
    if isinstance(error, TransientProviderError):
        raise ProviderUnavailable(error.message, details=details)
    raise InvalidRequest(error.message, code=error.code, details=details)
