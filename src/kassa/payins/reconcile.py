"""Reconciliation: settle payments and refunds whose provider answer was lost.

A payment still ``processing`` after the threshold (a crash, or a timeout) is looked up at
its provider with the same idempotency key; a capture or refund left in flight is re-sent with
its key, which providers answer without moving money twice. Each item is settled with the
same ``settle`` as the request that left it (``create_payment.settle_authorization``,
``confirm.settle``, ``capture.settle``, ``refund.settle``), in a change set of its own;
provider calls happen outside any transaction.

Payments waiting for the customer (``requires_action``) are confirmed when they have waited
``action_confirm_after`` since they last changed (the webhook that says the customer acted may
have been lost): ``confirm.complete_customer_action``. One still waiting ``action_expires_after``
after it was created is abandoned: canceled at the provider and marked ``canceled``
(``confirm.expire``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from kassa.core import clock, executor
from kassa.core.changes import ChangeSet, Writes
from kassa.core.errors import InvalidRequest
from kassa.core.ids import new_id
from kassa.payins import capture, confirm, create_payment, lifecycle
from kassa.payins import refund as refunds
from kassa.payins.errors import PAYMENT_NOT_PROCESSED
from kassa.payins.gateway import Outcome, scope_of
from kassa.payins.models import Payment, PaymentAttempt, Refund
from kassa.payins.repository import get_payment
from kassa.payins.state import PROCESSING, REQUIRES_ACTION
from kassa.providers.base import (
    ChargeResult,
    DeclinedError,
    PaymentLookup,
    PaymentStatus,
    PermanentProviderError,
    ProviderError,
    ProviderPayment,
)
from kassa.providers.registry import ProviderRegistry

log = logging.getLogger("kassa.payins.reconcile")
BATCH = 100
ACTION_CONFIRM_AFTER = timedelta(minutes=15)
ACTION_EXPIRES_AFTER = timedelta(hours=24)


@dataclass
class ReconcileReport:
    settled: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)  # abandoned by the customer: canceled


def lookup_for(payment: Payment) -> PaymentLookup:
    """How the provider finds the payment: its id once known, else the charge's key."""
    return PaymentLookup(
        idempotency_key=payment.idempotency_key,
        provider_payment_id=payment.provider_payment_id,
    )


async def _find_payment(
    registry: ProviderRegistry, payment: Payment
) -> tuple[ProviderPayment | None, str, bool]:
    """Ask each provider the payment may have reached; (found, provider, every one answered)."""
    lookup = lookup_for(payment)
    scope = scope_of(payment)
    all_answered = True
    for name in registry.chain(payment.provider):
        try:
            resolved = await registry.resolve(name, scope)
        except InvalidRequest:
            # No credentials serve this account here now: a failover provider it never had
            # any for was never tried; its own provider cannot be asked, so not answered.
            all_answered = all_answered and name != payment.provider
            continue
        adapter = resolved.adapter
        try:
            guard = registry.guard(name, resolved.scope)
            found = await guard.call(partial(adapter.retrieve, lookup), [])
        except ProviderError as exc:
            log.warning("lookup failed", extra={"payment_id": payment.id, "code": exc.code})
            all_answered = False
            continue
        if found is not None:
            return found, name, True
    return None, payment.provider, all_answered


def _lookup_attempt(changes: Writes, payment: Payment, provider: str, outcome: str) -> None:
    lifecycle.record_attempt(
        changes,
        payment,
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
        ),
    )


def _answer(found: ProviderPayment | None, provider: str) -> tuple[Outcome[ChargeResult], str]:
    """The lookup as the answer the authorization would have had, and the attempt's outcome."""
    if found is None:
        never = PermanentProviderError(
            "The provider never received this payment; nothing was charged.",
            provider=provider,
            code=PAYMENT_NOT_PROCESSED.code,
        )
        return Outcome(provider, error=never), "not_found"
    if found.status == "failed":
        declined = DeclinedError(
            f"The card was declined ({found.decline_code}).",
            provider=provider,
            decline_code=found.decline_code or "generic_decline",  # as a declined call has
            provider_payment_id=found.provider_payment_id,
        )
        return Outcome(provider, error=declined), "declined"
    status: PaymentStatus = "requires_capture"
    if found.status in ("succeeded", "requires_action"):
        status = found.status
    result = ChargeResult(
        provider=provider,
        provider_payment_id=found.provider_payment_id,
        status=status,
        amount=found.amount,
        amount_captured=found.amount_captured,
        method=found.method,
        next_action=found.next_action,
    )
    return Outcome(provider, result=result), found.status


async def _settle_authorize(
    sessions: async_sessionmaker[AsyncSession], registry: ProviderRegistry, payment: Payment
) -> bool:
    found, provider, answered = await _find_payment(registry, payment)
    if found is None and not answered:
        return False

    async def describe(reads: AsyncSession) -> tuple[ChangeSet, None]:
        changes = ChangeSet()
        current = await get_payment(reads, payment.id)
        if current.status != PROCESSING or current.pending_operation != "authorize":
            return changes, None  # settled meanwhile
        # Not found: nothing to say about the provider, which stays as it is.
        outcome, attempt = _answer(found, provider if found else current.provider)
        _lookup_attempt(changes, current, provider, attempt)  # only with the settlement
        create_payment.settle_authorization(changes, current, outcome, ())
        return changes, None

    await executor.commit_fresh(sessions, describe)
    return True


async def _settle_capture(
    sessions: async_sessionmaker[AsyncSession], registry: ProviderRegistry, payment: Payment
) -> bool:
    outcome: Outcome[ChargeResult] = await capture.call(registry, payment)
    if outcome.ambiguous:
        return False
    await capture.settle(sessions, payment, outcome)
    return True


async def _settle_confirm(
    sessions: async_sessionmaker[AsyncSession], registry: ProviderRegistry, payment: Payment
) -> bool:
    outcome = await confirm.call(registry, payment)  # the same key: never a second charge
    if outcome.ambiguous:
        return False
    await confirm.settle(sessions, payment, outcome)
    return True


async def _waiting_for_customers(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    report: ReconcileReport,
    *,
    confirm_after: timedelta,
    expires_after: timedelta,
) -> None:
    now = clock.now()
    async with executor.unit(sessions) as step:
        waiting = (
            await step.reads.scalars(
                select(Payment)
                .where(Payment.status == REQUIRES_ACTION, Payment.updated_at < now - confirm_after)
                .order_by(Payment.updated_at)
                .limit(BATCH)
            )
        ).all()
    for payment in waiting:
        if not registry.knows(payment.provider):
            report.unresolved.append(payment.id)
            continue
        stored = await confirm.complete_customer_action(
            sessions, registry, payment.id, trigger="reconcile"
        )
        if stored.status == REQUIRES_ACTION and stored.created_at < now - expires_after:
            stored = await confirm.expire(sessions, registry, stored)
            if stored.status != REQUIRES_ACTION:
                report.expired.append(payment.id)
                continue
        if stored.status == REQUIRES_ACTION:
            continue  # the customer has not acted yet: nothing to settle
        (report.unresolved if stored.status == PROCESSING else report.settled).append(payment.id)


async def reconcile(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    *,
    older_than: timedelta,
    action_confirm_after: timedelta = ACTION_CONFIRM_AFTER,
    action_expires_after: timedelta = ACTION_EXPIRES_AFTER,
) -> ReconcileReport:
    report = ReconcileReport()
    cutoff = clock.now() - older_than
    async with executor.unit(sessions) as step:
        session = step.reads
        stuck = (
            await session.scalars(
                select(Payment)
                .where(Payment.status == PROCESSING, Payment.updated_at < cutoff)
                .options(selectinload(Payment.attempts))  # a capture is settled as read
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
        if not registry.knows(payment.provider):
            report.unresolved.append(payment.id)
            continue
        if payment.pending_operation == "capture":
            done = await _settle_capture(sessions, registry, payment)
        elif payment.pending_operation == confirm.CONFIRM:
            done = await _settle_confirm(sessions, registry, payment)
        else:
            done = await _settle_authorize(sessions, registry, payment)
        (report.settled if done else report.unresolved).append(payment.id)
    for refund in pending_refunds:
        owner = refund_payments[refund.id]
        if owner is None or not registry.knows(refund.provider):
            report.unresolved.append(refund.id)
            continue
        outcome = await refunds.call(registry, refund, owner)
        if outcome.ambiguous:
            report.unresolved.append(refund.id)
            continue
        await refunds.settle(sessions, refund_id=refund.id, outcome=outcome)
        report.settled.append(refund.id)
    await _waiting_for_customers(
        sessions,
        registry,
        report,
        confirm_after=action_confirm_after,
        expires_after=action_expires_after,
    )
    if report.settled or report.unresolved or report.expired:
        log.info(
            "reconciliation ran",
            extra={
                "settled": len(report.settled),
                "unresolved": len(report.unresolved),
                "expired": len(report.expired),
            },
        )
    return report
