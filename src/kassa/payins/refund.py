"""Refunds: full or partial, several partial ones up to the captured amount. Crash-safe.

1. ``intend``: the refund row (``pending``, key = the refund's id) and the amount it reserves
   on the payment, committed (guarded: only if the payment's refunded and reserved amounts
   are still as read, so two refunds never reserve the same money);
2. ``call``: the provider, with that key;
3. ``settle``: the attempts and the answer, committed (guarded: only while the refund is
   pending and the payment as read).

Reconciliation re-sends a refund left ``pending`` with the same key, which the provider
answers without paying twice, and settles it with the same ``settle``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock, executor
from kassa.core.changes import ChangeSet
from kassa.core.error_catalog import AMOUNT_TOO_LARGE, CURRENCY_MISMATCH
from kassa.core.errors import InvalidRequest
from kassa.core.ids import new_id
from kassa.core.money import Money
from kassa.payins import lifecycle
from kassa.payins.errors import (
    AMOUNT_MUST_BE_POSITIVE,
    CHARGE_ALREADY_REFUNDED,
    PAYMENT_NOT_REFUNDABLE,
)
from kassa.payins.gateway import Outcome, admit, call_one, scope_of
from kassa.payins.models import Payment, Refund
from kassa.payins.repository import created_by_request, get_owned, get_payment
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


def _guard_amounts(changes: ChangeSet, payment: Payment) -> None:
    """Change ``payment`` only if what is refunded and reserved on it is still as read."""
    changes.guard(payment, "status", "amount_refunded", "amount_refund_pending")


async def intend(
    sessions: async_sessionmaker[AsyncSession],
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
    amount: Money | None,
    reason: str | None = None,
    metadata: dict[str, str] | None = None,
    request_key: str | None = None,
    registry: ProviderRegistry | None = None,
) -> tuple[Refund, Payment]:
    """Step 1: commit the refund's intent; returns the refund and its payment as committed.
    With ``registry``, an open circuit refuses it first (ProviderUnavailable), and then
    nothing is written."""

    async def describe(reads: AsyncSession) -> tuple[ChangeSet, tuple[Refund, Payment]]:
        payment = await get_owned(
            reads, Payment, payment_id, account_id=account_id, livemode=livemode
        )
        if payment.status == REFUNDED:
            raise CHARGE_ALREADY_REFUNDED("This payment was already refunded in full.")
        if payment.status not in REFUNDABLE:
            raise PAYMENT_NOT_REFUNDABLE(
                f"Only captured payments can be refunded; this one is {payment.status}.",
                details={"current_status": payment.status},
            )
        available = (
            payment.amount_captured - payment.amount_refunded - payment.amount_refund_pending
        )
        to_refund = amount or Money(available, payment.currency)
        if to_refund.currency != payment.currency:
            raise CURRENCY_MISMATCH(
                f"The payment is in {payment.currency}.",
                param="amount.currency",
            )
        if not to_refund.is_positive():
            if amount is None:
                raise CHARGE_ALREADY_REFUNDED(
                    "Nothing is left to refund (refunds in flight count)."
                )
            raise AMOUNT_MUST_BE_POSITIVE("The amount must be greater than zero.")
        if to_refund.minor > available:
            raise AMOUNT_TOO_LARGE(
                f"At most {Money(available, payment.currency)} can still be refunded.",
                param="amount",
            )
        if reason is not None and reason not in REASONS:
            raise InvalidRequest(f"reason is one of {', '.join(REASONS)}.", param="reason")
        if registry is not None:
            # Credentials must still serve the payment's account there (else refused now);
            # then no await from the admission to created_at: the moment of admission.
            route = [await registry.resolve(payment.provider, scope_of(payment))]
            admit(registry, route)
        changes = ChangeSet()
        _guard_amounts(changes, payment)
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
        changes.add(refund)
        payment.amount_refund_pending += to_refund.minor
        payment.updated_at = now
        lifecycle.refund_event(changes, refund, "refund.created", None)
        return changes, (refund, payment)

    return await executor.commit_fresh(sessions, describe)


async def call(
    registry: ProviderRegistry,
    refund: Refund,
    payment: Payment,
    *,
    admitted_at: datetime | None = None,
) -> Outcome[RefundResult]:
    """Step 2: call the refund's provider (outside any transaction). ``admitted_at``: the
    refund was admitted then (see gateway.admit); reconciliation, which re-sends on its own
    schedule, gives none and so respects every open circuit."""
    request = refund_request(refund, payment)
    return await call_one(
        registry,
        refund.provider,
        lambda provider: provider.refund(request),
        scope=scope_of(refund),
        admitted_at=admitted_at,
    )


async def settle(
    sessions: async_sessionmaker[AsyncSession], *, refund_id: str, outcome: Outcome[RefundResult]
) -> Refund:
    """Step 3: commit the attempts (whatever else happened) and, if the refund is still
    pending, the answer; returns the refund as stored."""

    async def describe(reads: AsyncSession) -> tuple[ChangeSet, Refund]:
        refund = await reads.get(Refund, refund_id)
        assert refund is not None
        payment = await get_payment(reads, refund.payment_id)
        changes = ChangeSet()
        lifecycle.add_attempts(
            changes.regardless,
            payment,
            operation="refund",
            idempotency_key=refund.idempotency_key,
            records=outcome.records,
            success="succeeded",
        )
        if refund.status != "pending":
            return changes, refund
        changes.guard(refund, status="pending")
        if outcome.result is not None:
            _guard_amounts(changes, payment)
            refund.status = "succeeded"
            refund.provider_refund_id = outcome.result.provider_refund_id
            payment.amount_refund_pending -= refund.amount
            payment.amount_refunded += refund.amount
            lifecycle.refund_event(changes, refund, "refund.succeeded", "pending")
            full = payment.amount_refunded >= payment.amount_captured
            lifecycle.transition(changes, payment, REFUNDED if full else PARTIALLY_REFUNDED)
        elif outcome.ambiguous:
            refund.updated_at = clock.now()
        else:
            error = outcome.error
            assert error is not None
            _guard_amounts(changes, payment)
            refund.status = "failed"
            refund.failure_code = error.code
            refund.failure_message = error.message[:500]
            payment.amount_refund_pending -= refund.amount
            payment.updated_at = clock.now()
            lifecycle.refund_event(changes, refund, "refund.failed", "pending")
        return changes, refund

    return await executor.commit_fresh(sessions, describe)


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
        async with executor.unit(sessions) as step:
            earlier = await created_by_request(
                step.reads,
                Refund,
                account_id=account_id,
                request_key=request_key,
                since=resumes_since,
            )
            payment = await step.reads.get(Payment, earlier.payment_id) if earlier else None
        if earlier is not None:
            assert payment is not None
            if on_intent_committed is not None:
                on_intent_committed()
            return await _finish(sessions, registry, earlier, payment)
    refund, payment = await intend(
        sessions,
        account_id=account_id,
        livemode=livemode,
        payment_id=payment_id,
        amount=amount,
        reason=reason,
        metadata=metadata,
        request_key=request_key,
        registry=registry,
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
    outcome = await call(registry, refund, payment, admitted_at=refund.created_at)
    return refund_json(await settle(sessions, refund_id=refund.id, outcome=outcome))
