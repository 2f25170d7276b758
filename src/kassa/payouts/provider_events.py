"""The job ``payouts.apply_rise_event``: one stored, verified Rise webhook applied to payouts.

The receiver stored the event (unique per provider event id, so a redelivery is a no-op) and
enqueued this job with it. Here:

- ``payment.initiated`` / ``payment.completed`` / ``payment.failed``: the payout transaction
  it is about (by Rise's payment id, else by the salt kassa derived from the transaction's
  idempotency key) is settled through ``execution.settle``, the same code the status poll
  uses. ``settle`` is guarded on the transaction still ``processing`` with its key, so
  whichever of webhook and poll commits first wins and the other changes nothing; a failure
  Rise may get past later (insufficient balance) is retried with execution's backoff.
- ``batch.completed``: each payment it lists, the same way (a missed payment webhook is
  caught up).
- ``deposit.deposit_received``: recorded and logged; no money state changes.

An event about no transaction kassa knows is kept, marked ``unknown_object``; a type kassa
does not act on is ``ignored``. The event's row says what it came to.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import executor
from kassa.core.digits import ascii_digits
from kassa.core.money import Money
from kassa.payouts import execution
from kassa.payouts.models import PayoutBatch, PayoutTransaction
from kassa.providers.base import PayoutResult
from kassa.providers.rise.provider import SOFT_FAILURES, STATES
from kassa.providers.rise.typed_data import salt_for
from kassa.webhooks.inbound.event_log import record_processing
from kassa.webhooks.inbound.models import (
    FAILED,
    IGNORED,
    PROCESSED,
    UNKNOWN_OBJECT,
    InboundEvent,
)
from kassa.webhooks.inbound.store import apply_job_of

log = logging.getLogger("kassa.payouts")
JOB = apply_job_of("rise")  # the receiver enqueues it by this name
PAYMENT_EVENTS = ("payment.initiated", "payment.completed", "payment.failed")


@dataclass(frozen=True)
class Outcome:
    status: str
    object_id: str | None = None
    account_id: str | None = None
    error: str | None = None


async def _find(
    reads: AsyncSession, payment: dict[str, Any], company_id: str | None
) -> PayoutTransaction | None:
    """The transaction a Rise payment is: by Rise's id, else (Rise answered the webhook
    before kassa recorded its answer) by the salt of an open transaction to that payee."""
    nanoid = payment.get("nanoid")
    rise_batches = select(PayoutBatch.id).where(PayoutBatch.provider == "rise")
    if isinstance(nanoid, str) and nanoid:
        found = await reads.scalar(
            select(PayoutTransaction).where(
                PayoutTransaction.provider_transaction_id == nanoid,
                PayoutTransaction.batch_id.in_(rise_batches),
            )
        )
        if found is not None:
            return found
    salt, recipient = str(payment.get("salt") or ""), str(payment.get("recipient") or "")
    # a salt is a uint256: at most 78 digits
    if not (company_id and ascii_digits(salt, max_digits=78) and recipient):
        return None
    candidates = await reads.scalars(
        select(PayoutTransaction).where(
            func.lower(PayoutTransaction.provider_payee_id) == recipient.lower(),
            PayoutTransaction.status.in_(execution.OPEN),
            PayoutTransaction.idempotency_key.is_not(None),
            PayoutTransaction.batch_id.in_(rise_batches),
        )
    )
    return next(
        (t for t in candidates if salt_for(company_id, t.idempotency_key or "") == int(salt)),
        None,
    )


def _result(tx: PayoutTransaction, payment: dict[str, Any]) -> PayoutResult:
    error = payment.get("error") if isinstance(payment.get("error"), dict) else None
    code = str(error.get("code")) if error and error.get("code") else None
    nanoid = payment.get("nanoid")
    return PayoutResult(
        provider="rise",
        idempotency_key=tx.idempotency_key or execution.send_key(tx),
        status=STATES.get(str(payment.get("state")), "unknown"),
        amount=Money(tx.amount, tx.currency),
        payee_id=tx.provider_payee_id,
        provider_transaction_id=str(nanoid) if nanoid else None,
        error_code=code.lower() if code else None,
        error_message=str(error.get("message") or "")[:200] if error else None,
        retryable=code in SOFT_FAILURES,
    )


async def _apply_payment(
    sessions: async_sessionmaker[AsyncSession],
    payment: dict[str, Any],
    company_id: str | None,
    policy: execution.Policy,
) -> PayoutTransaction | None:
    async with executor.unit(sessions) as step:
        tx = await _find(step.reads, payment, company_id)
    if tx is None:
        return None
    result = _result(tx, payment)
    if result.status in ("completed", "failed"):
        await execution.settle(sessions, tx.batch_id, {result.idempotency_key: result}, policy)
    return tx


async def process(
    sessions: async_sessionmaker[AsyncSession],
    event_type: str,
    payload: dict[str, Any],
    *,
    company_id: str | None,
    policy: execution.Policy,
) -> Outcome:
    if event_type in PAYMENT_EVENTS:
        payment = payload.get("payment")
        if not isinstance(payment, dict):
            return Outcome(IGNORED, error="The event has no payment.")
        tx = await _apply_payment(sessions, payment, company_id, policy)
        if tx is None:
            return Outcome(UNKNOWN_OBJECT, error="No payout transaction is this Rise payment.")
        return Outcome(PROCESSED, tx.id, tx.account_id)
    if event_type == "batch.completed":
        group = payload.get("payment_group") or {}
        payments = group.get("payments") if isinstance(group, dict) else None
        found = []
        for payment in payments if isinstance(payments, list) else []:
            if isinstance(payment, dict):
                tx = await _apply_payment(sessions, payment, company_id, policy)
                if tx is not None:
                    found.append(tx)
        if not found:
            return Outcome(UNKNOWN_OBJECT, error="No payout transaction is in this Rise group.")
        return Outcome(PROCESSED, found[0].batch_id, found[0].account_id)
    if event_type == "deposit.deposit_received":
        # Funds arrived at the company's Rise balance: worth a log line, never a state change.
        log.info("Rise deposit received", extra={"rise_event_type": event_type})
        return Outcome(PROCESSED)
    return Outcome(IGNORED)


async def _record(
    sessions: async_sessionmaker[AsyncSession], event: InboundEvent, outcome: Outcome
) -> None:
    await record_processing(
        sessions,
        event.id,
        status=outcome.status,
        error=outcome.error,
        object_id=outcome.object_id,
        attribute_to=outcome.account_id if event.account_id is None else None,
    )


Process = Callable[[InboundEvent], Awaitable[Outcome]]


async def apply_stored(
    sessions: async_sessionmaker[AsyncSession],
    inbound_event_id: str,
    provider: str,
    process_event: Process,
) -> Outcome | None:
    """Process one stored event of a payout provider and record what it came to (None: no
    such event). Raises, after recording ``failed``, for the job machinery to retry."""
    async with executor.unit(sessions) as step:
        event = await step.reads.get(InboundEvent, inbound_event_id)
    if event is None or event.provider != provider:
        log.warning("no such %s event", provider, extra={"inbound_event_id": inbound_event_id})
        return None
    try:
        outcome = await process_event(event)
    except Exception as exc:
        await _record(sessions, event, Outcome(FAILED, error=f"{type(exc).__name__}"))
        raise
    await _record(sessions, event, outcome)
    return outcome


async def apply_rise_event(
    sessions: async_sessionmaker[AsyncSession],
    inbound_event_id: str,
    *,
    company_id: str | None,
    policy: execution.Policy = execution.Policy(),
) -> Outcome | None:
    """Process one stored Rise event and record what it came to (None: no such event)."""

    async def process_event(event: InboundEvent) -> Outcome:
        return await process(
            sessions, event.event_type, dict(event.payload), company_id=company_id, policy=policy
        )

    return await apply_stored(sessions, inbound_event_id, "rise", process_event)
