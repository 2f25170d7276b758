"""Refunds: full or partial, several partial ones up to the captured amount. Crash-safe.

The refund row (``pending``, key = the refund's id) and the amount it reserves commit first;
the provider is called; the answer is recorded in a new transaction. Reconciliation re-sends a
refund left ``pending`` with the same key, which the provider answers without paying twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock
from kassa.core.db import transaction
from kassa.core.errors import InvalidMoney, InvalidRequest, InvalidStateTransition
from kassa.core.ids import new_id
from kassa.core.money import Money
from kassa.payins import lifecycle
from kassa.payins.gateway import Outcome, call_one
from kassa.payins.models import Payment, Refund
from kassa.payins.repository import created_by_request, get_owned, lock_payment
from kassa.payins.state import PARTIALLY_REFUNDED, REFUNDABLE, REFUNDED
from kassa.payins.views import refund_json
from kassa.providers.base import RefundRequest, RefundResult
from kassa.providers.registry import ProviderRegistry

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def refund_request(refund: Refund, payment: Payment) -> RefundRequest:
    return RefundRequest(
        idempotency_key=refund.idempotency_key,
        provider_payment_id=payment.provider_payment_id or "",
        amount=Money(refund.amount, refund.currency),
        reason=refund.reason,
    )


async def begin(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
    amount: Money | None,
    reason: str | None = None,
    metadata: dict[str, str] | None = None,
    request_key: str | None = None,
) -> tuple[Refund, Payment]:
    payment = await get_owned(
        session, Payment, payment_id, account_id=account_id, livemode=livemode, for_update=True
    )
    if payment.status == REFUNDED:
        raise InvalidStateTransition(
            "This payment was already refunded in full.", code="charge_already_refunded"
        )
    if payment.status not in REFUNDABLE:
        raise InvalidStateTransition(
            f"Only captured payments can be refunded; this one is {payment.status}.",
            code="payment_not_refundable",
            details={"current_status": payment.status},
        )
    available = payment.amount_captured - payment.amount_refunded - payment.amount_refund_pending
    to_refund = amount or Money(available, payment.currency)
    if to_refund.currency != payment.currency:
        raise InvalidMoney(
            f"The payment is in {payment.currency}.",
            code="currency_mismatch",
            param="amount.currency",
        )
    if not to_refund.is_positive():
        if amount is None:
            raise InvalidStateTransition(
                "Nothing is left to refund (refunds in flight count).",
                code="charge_already_refunded",
            )
        raise InvalidMoney("The amount must be greater than zero.", code="amount_must_be_positive")
    if to_refund.minor > available:
        raise InvalidRequest(
            f"At most {Money(available, payment.currency)} can still be refunded.",
            code="amount_too_large",
            param="amount",
        )
    if reason is not None and reason not in REASONS:
        raise InvalidRequest(f"reason is one of {', '.join(REASONS)}.", param="reason")
    now = clock.now()
    refund_id = new_id("re")
    refund = Refund(
        id=refund_id,
        account_id=account_id,
        livemode=livemode,
        payment_id=payment.id,
        status="pending",
        currency=payment.currency,
        amount=to_refund.minor,
        reason=reason,
        metadata_=dict(metadata or {}),
        provider=payment.provider,
        provider_refund_id=None,
        idempotency_key=refund_id,
        request_key=request_key,
        failure_code=None,
        failure_message=None,
        created_at=now,
        updated_at=now,
    )
    session.add(refund)
    payment.amount_refund_pending += to_refund.minor
    payment.updated_at = now
    lifecycle.refund_event(session, refund, "refund.created", None)
    return refund, payment


async def call(
    registry: ProviderRegistry, refund: Refund, payment: Payment
) -> Outcome[RefundResult]:
    request = refund_request(refund, payment)
    provider = registry.get(refund.provider)
    return await call_one(registry, refund.provider, lambda: provider.refund(request))


async def record(
    session: AsyncSession, *, refund_id: str, outcome: Outcome[RefundResult]
) -> Refund:
    refund = await session.get(Refund, refund_id, with_for_update=True, populate_existing=True)
    assert refund is not None
    payment = await lock_payment(session, refund.payment_id)
    lifecycle.add_attempts(
        session,
        payment,
        operation="refund",
        idempotency_key=refund.idempotency_key,
        records=outcome.records,
        success="succeeded",
    )
    if refund.status != "pending":
        return refund
    if outcome.result is not None:
        refund.status = "succeeded"
        refund.provider_refund_id = outcome.result.provider_refund_id
        payment.amount_refund_pending -= refund.amount
        payment.amount_refunded += refund.amount
        lifecycle.refund_event(session, refund, "refund.succeeded", "pending")
        full = payment.amount_refunded >= payment.amount_captured
        lifecycle.transition(session, payment, REFUNDED if full else PARTIALLY_REFUNDED)
    elif outcome.ambiguous:
        refund.updated_at = clock.now()
    else:
        error = outcome.error
        assert error is not None
        refund.status = "failed"
        refund.failure_code = error.code
        refund.failure_message = error.message[:500]
        payment.amount_refund_pending -= refund.amount
        payment.updated_at = clock.now()
        lifecycle.refund_event(session, refund, "refund.failed", "pending")
    return refund


async def refund_payment(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
    amount: Money | None,
    reason: str | None = None,
    metadata: dict[str, str] | None = None,
    request_key: str | None = None,
    resumes_since: datetime | None = None,
    on_intent_committed: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Refund, crash-safe like a payment: intent, provider call, result. ``request_key`` is
    the API Idempotency-Key; ``resumes_since`` says an earlier request with it died mid-way,
    and then the refund it created is resumed (same provider key), never made twice.
    ``on_intent_committed`` is called once a refund exists for the request."""
    if request_key and resumes_since is not None:
        async with transaction(sessions) as session:
            earlier = await created_by_request(
                session,
                Refund,
                account_id=account_id,
                request_key=request_key,
                since=resumes_since,
            )
            payment = await session.get(Payment, earlier.payment_id) if earlier else None
        if earlier is not None:
            assert payment is not None
            if on_intent_committed is not None:
                on_intent_committed()
            return await _finish(sessions, registry, earlier, payment)
    async with transaction(sessions) as session:
        refund, payment = await begin(
            session,
            account_id=account_id,
            livemode=livemode,
            payment_id=payment_id,
            amount=amount,
            reason=reason,
            metadata=metadata,
            request_key=request_key,
        )
    if on_intent_committed is not None:
        on_intent_committed()
    return await _finish(sessions, registry, refund, payment)


async def _finish(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    refund: Refund,
    payment: Payment,
) -> dict[str, Any]:
    if refund.status != "pending":
        return refund_json(refund)
    outcome = await call(registry, refund, payment)
    async with transaction(sessions) as session:
        refund = await record(session, refund_id=refund.id, outcome=outcome)
        return refund_json(refund)
