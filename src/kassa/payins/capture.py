"""Capturing an authorized payment, fully or partly, crash-safe like creation.

1. ``intend``: ``requires_capture`` -> ``processing`` with the amount, committed (guarded: only
   a payment that still requires capture);
2. ``call``: the provider, with the key ``pay_.../capture``;
3. ``settle``: the attempts and the answer, committed (guarded: only while that capture is
   still in flight, so reconciliation and a late answer never both settle it).

One capture per payment, as with Stripe: what is not captured is released.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock, executor
from kassa.core.changes import ChangeSet
from kassa.core.error_catalog import AMOUNT_TOO_LARGE, CURRENCY_MISMATCH
from kassa.core.money import Money
from kassa.payins import lifecycle
from kassa.payins.errors import (
    AMOUNT_MUST_BE_POSITIVE,
    PAYMENT_NOT_CAPTURABLE,
    PaymentDeclined,
    ProviderUnavailable,
    refused_by_provider,
)
from kassa.payins.gateway import Outcome, call_one, scope_of
from kassa.payins.models import Payment, PaymentAttempt
from kassa.payins.repository import attempts_for, get_owned, get_payment
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


async def intend(
    sessions: async_sessionmaker[AsyncSession],
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
    amount: Money | None,
) -> Payment:
    """Step 1: commit the capture's intent; returns the payment as committed."""

    async def describe(reads: AsyncSession) -> tuple[ChangeSet, Payment]:
        payment = await get_owned(
            reads, Payment, payment_id, account_id=account_id, livemode=livemode, to_change=True
        )
        if payment.status != REQUIRES_CAPTURE:
            raise PAYMENT_NOT_CAPTURABLE(
                "Only a payment that requires capture can be captured; "
                f"this one is {payment.status}.",
                details={"current_status": payment.status},
            )
        to_capture = amount or Money(payment.amount_capturable, payment.currency)
        if to_capture.currency != payment.currency:
            raise CURRENCY_MISMATCH(
                f"The payment is in {payment.currency}.",
                param="amount_to_capture.currency",
            )
        if not to_capture.is_positive():
            raise AMOUNT_MUST_BE_POSITIVE("The amount must be greater than zero.")
        if to_capture.minor > payment.amount_capturable:
            raise AMOUNT_TOO_LARGE(
                f"At most {Money(payment.amount_capturable, payment.currency)} can be captured.",
                param="amount_to_capture",
            )
        changes = ChangeSet()
        changes.guard(payment, status=REQUIRES_CAPTURE)  # what is capturable is as read
        payment.pending_operation = "capture"
        payment.pending_amount = to_capture.minor
        lifecycle.transition(changes, payment, PROCESSING)
        return changes, payment

    return await executor.commit_fresh(sessions, describe)


async def call(registry: ProviderRegistry, payment: Payment) -> Outcome[ChargeResult]:
    """Step 2: call the payment's provider (outside any transaction)."""
    request = capture_request(payment)
    return await call_one(
        registry,
        payment.provider,
        lambda provider: provider.capture(request),
        scope=scope_of(payment),
    )


def settle_capture(
    changes: ChangeSet,
    payment: Payment,
    outcome: Outcome[ChargeResult],
    attempts: Sequence[PaymentAttempt] = (),
) -> None:
    """The capture's answer applied, guarded: only while ``payment``'s capture is in flight
    (``settle``, and a provider's event that tells the answer first, use it)."""
    changes.guard(payment, status=PROCESSING, pending_operation="capture")
    if outcome.result is not None:
        payment.amount_captured = payment.pending_amount or 0
        payment.amount_capturable = 0
        payment.pending_operation = None
        payment.pending_amount = None
        lifecycle.transition(changes, payment, SUCCEEDED, attempts=attempts)
    elif outcome.ambiguous:
        payment.updated_at = clock.now()  # reconciliation re-sends the same capture
    else:
        error = outcome.error
        assert error is not None
        payment.pending_operation = None
        payment.pending_amount = None
        payment.failure_code = error.code
        payment.failure_message = error.message[:500]
        lifecycle.transition(changes, payment, REQUIRES_CAPTURE, attempts=attempts)


async def settle(
    sessions: async_sessionmaker[AsyncSession], payment: Payment, outcome: Outcome[ChargeResult]
) -> Payment:
    """Step 3: commit the attempts (whatever else happened) and the answer, if ``payment``'s
    capture is still in flight; returns the payment as stored."""
    changes = ChangeSet()
    attempts = lifecycle.add_attempts(
        changes.regardless,
        payment,
        operation="capture",
        idempotency_key=capture_key(payment.id),
        records=outcome.records,
        success="succeeded",
    )
    settle_capture(changes, payment, outcome, attempts)
    if (await executor.commit(sessions, changes)).matched:
        return payment
    async with executor.unit(sessions) as step:  # settled meanwhile: what is stored
        return await get_payment(step.reads, payment.id)


async def capture_payment(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
    amount: Money | None,
    on_intent_committed: Callable[[], None] | None = None,
) -> dict[str, object]:
    """Intent, provider call, result. A refusal raised before the intent commits changed
    nothing; ``on_intent_committed`` is called once the capture is under way (the API then
    remembers the request's outcome under its Idempotency-Key, whatever it is)."""
    payment = await intend(
        sessions, account_id=account_id, livemode=livemode, payment_id=payment_id, amount=amount
    )
    if on_intent_committed is not None:
        on_intent_committed()
    outcome = await call(registry, payment)
    payment = await settle(sessions, payment, outcome)
    async with executor.unit(sessions) as step:
        view = payment_json(payment, await attempts_for(step.reads, payment_id))
    raise_for_error(outcome, payment_id)
    return view


def _whole_seconds(seconds: float | None) -> int | None:
    return None if seconds is None else max(1, math.ceil(seconds))


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
        raise ProviderUnavailable(
            error.message, retry_after=_whole_seconds(error.retry_after), details=details
        )
    raise refused_by_provider(error.code)(error.message, details=details)
