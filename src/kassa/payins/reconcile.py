"""Reconciliation: settle payments and refunds whose provider answer was lost.

A payment still ``processing`` after the threshold (a crash, or a timeout) is looked up at
its provider with the same idempotency key; a capture or refund left in flight is re-sent with
its key, which providers answer without moving money twice. Each item is settled in its own
transaction; provider calls happen outside any transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock
from kassa.core.db import transaction
from kassa.core.ids import new_id
from kassa.payins import capture, create_payment
from kassa.payins import refund as refunds
from kassa.payins.gateway import Outcome
from kassa.payins.models import Payment, PaymentAttempt, Refund
from kassa.payins.repository import lock_payment
from kassa.payins.state import PROCESSING
from kassa.providers.base import (
    ChargeResult,
    PaymentLookup,
    ProviderError,
    ProviderPayment,
)
from kassa.providers.registry import ProviderRegistry

log = logging.getLogger("kassa.payins.reconcile")
BATCH = 100


@dataclass
class ReconcileReport:
    settled: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)


def lookup_for(payment: Payment) -> PaymentLookup:
    return PaymentLookup(
        charge=create_payment.charge_request(payment),
        provider_payment_id=payment.provider_payment_id,
    )


async def _find_payment(
    registry: ProviderRegistry, payment: Payment
) -> tuple[ProviderPayment | None, str, bool]:
    """Ask each provider the payment may have reached; (found, provider, every one answered)."""
    lookup = lookup_for(payment)
    all_answered = True
    for name in registry.chain(payment.provider):
        adapter = registry.get(name)
        try:
            found = await registry.guard(name).call(partial(adapter.retrieve, lookup), [])
        except ProviderError as exc:
            log.warning("lookup failed", extra={"payment_id": payment.id, "code": exc.code})
            all_answered = False
            continue
        if found is not None:
            return found, name, True
    return None, payment.provider, all_answered


def _lookup_attempt(session: AsyncSession, payment: Payment, provider: str, outcome: str) -> None:
    session.add(
        PaymentAttempt(
            id=new_id("att"),
            payment_id=payment.id,
            operation="lookup",
            provider=provider,
            idempotency_key=payment.idempotency_key,
            outcome=outcome,
            error_code=None,
            error_message=None,
            elapsed_ms=0,
            created_at=clock.now(),
        )
    )


async def _settle_authorize(
    sessions: async_sessionmaker[AsyncSession], registry: ProviderRegistry, payment: Payment
) -> bool:
    found, provider, answered = await _find_payment(registry, payment)
    if found is None and not answered:
        return False
    async with transaction(sessions) as session:
        current = await lock_payment(session, payment.id)
        if current.status != PROCESSING or current.pending_operation != "authorize":
            return True
        if found is None:
            _lookup_attempt(session, current, provider, "not_found")
            create_payment.apply_failure(
                session,
                current,
                code="payment_not_processed",
                message="The provider never received this payment; nothing was charged.",
                decline_code=None,
                attempts=(),
            )
        elif found.status == "failed":
            _lookup_attempt(session, current, provider, "declined")
            current.provider = provider
            current.provider_payment_id = found.provider_payment_id
            create_payment.apply_failure(
                session,
                current,
                code="card_declined",
                message=f"The card was declined ({found.decline_code}).",
                decline_code=found.decline_code,
                attempts=(),
            )
        else:
            _lookup_attempt(session, current, provider, found.status)
            result = ChargeResult(
                provider=provider,
                provider_payment_id=found.provider_payment_id,
                status="succeeded" if found.status == "succeeded" else "requires_capture",
                amount=found.amount,
                amount_captured=found.amount_captured,
                method=found.method,
            )
            create_payment.apply_charge(session, current, result, ())
    return True


async def _settle_capture(
    sessions: async_sessionmaker[AsyncSession], registry: ProviderRegistry, payment: Payment
) -> bool:
    outcome: Outcome[ChargeResult] = await capture.call(registry, payment)
    if outcome.ambiguous:
        return False
    async with transaction(sessions) as session:
        await capture.record(session, payment_id=payment.id, outcome=outcome)
    return True


async def reconcile(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    *,
    older_than: timedelta,
) -> ReconcileReport:
    report = ReconcileReport()
    cutoff = clock.now() - older_than
    async with transaction(sessions) as session:
        stuck = (
            await session.scalars(
                select(Payment)
                .where(Payment.status == PROCESSING, Payment.updated_at < cutoff)
                .order_by(Payment.updated_at)
                .limit(BATCH)
            )
        ).all()
        pending_refunds = (
            await session.scalars(
                select(Refund)
                .where(Refund.status == "pending", Refund.updated_at < cutoff)
                .order_by(Refund.updated_at)
                .limit(BATCH)
            )
        ).all()
        refund_payments = {r.id: await session.get(Payment, r.payment_id) for r in pending_refunds}
    for payment in stuck:
        if payment.provider not in registry.providers:
            report.unresolved.append(payment.id)
            continue
        if payment.pending_operation == "capture":
            done = await _settle_capture(sessions, registry, payment)
        else:
            done = await _settle_authorize(sessions, registry, payment)
        (report.settled if done else report.unresolved).append(payment.id)
    for refund in pending_refunds:
        owner = refund_payments[refund.id]
        if owner is None or refund.provider not in registry.providers:
            report.unresolved.append(refund.id)
            continue
        outcome = await refunds.call(registry, refund, owner)
        if outcome.ambiguous:
            report.unresolved.append(refund.id)
            continue
        async with transaction(sessions) as session:
            await refunds.record(session, refund_id=refund.id, outcome=outcome)
        report.settled.append(refund.id)
    if report.settled or report.unresolved:
        log.info(
            "reconciliation ran",
            extra={"settled": len(report.settled), "unresolved": len(report.unresolved)},
        )
    return report
