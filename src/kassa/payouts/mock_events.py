"""The mock payout provider's simulated webhooks, received and applied as Rise's are.

The mock has no network peer to post to, so the worker takes its due webhooks
(``payouts.mock_webhooks``, every few seconds when the mock is the payout provider) and stores
them as a receiver stores what a provider posts: in ``inbound_events``, once per event id, with
their processing job, through the same group committer. Only then are they marked delivered in
the mock's ledger, so a worker that dies in between delivers them again and the copy is a
duplicate. ``payouts.apply_mock_event`` then settles the transaction the event is about
through ``execution.settle``, guarded like the status poll: whichever commits first wins.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kassa.core import executor
from kassa.core.money import Money
from kassa.payouts import execution
from kassa.payouts.models import PayoutBatch, PayoutTransaction
from kassa.payouts.provider_events import Outcome, apply_stored
from kassa.providers.base import PayoutResult
from kassa.providers.credentials import DEFAULT
from kassa.providers.payout_mock import MockPayoutProvider
from kassa.webhooks.inbound.models import IGNORED, PROCESSED, UNKNOWN_OBJECT, InboundEvent
from kassa.webhooks.inbound.store import GroupCommitter, NewEvent, apply_job_of

PROVIDER = "payout_mock"  # inbound_events.provider of the mock's webhooks
DELIVER_JOB = "payouts.mock_webhooks"
APPLY_JOB = apply_job_of(PROVIDER)
FINAL = {"payment.completed": "completed", "payment.failed": "failed"}


async def deliver(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    mock: MockPayoutProvider,
    *,
    limit: int = 500,
) -> int:
    """Store the mock's due webhooks with their jobs (once per id); how many were due."""
    due = mock.due_webhooks(limit)
    if not due:
        return 0
    committer = GroupCommitter(engine, sessions, job=APPLY_JOB)
    try:
        await asyncio.gather(
            *(
                committer.store(
                    NewEvent(
                        provider=PROVIDER,
                        credentials_id=DEFAULT,
                        account_id=None,  # found by processing, as for default credentials
                        livemode=False,  # the mock pays test mode only
                        event_id=hook.id,
                        event_type=hook.type,
                        payload=hook.payload,
                        payload_json=json.dumps(hook.payload),
                    )
                )
                for hook in due
            )
        )
    finally:
        await committer.close()
    mock.webhooks_delivered([hook.id for hook in due])
    return len(due)


async def _transaction(reads: AsyncSession, key: str) -> PayoutTransaction | None:
    mock_batches = select(PayoutBatch.id).where(PayoutBatch.provider == "mock")
    found: PayoutTransaction | None = await reads.scalar(
        select(PayoutTransaction).where(
            PayoutTransaction.idempotency_key == key,
            PayoutTransaction.batch_id.in_(mock_batches),
        )
    )
    return found


async def process(
    sessions: async_sessionmaker[AsyncSession], event: InboundEvent, policy: execution.Policy
) -> Outcome:
    status = FINAL.get(event.event_type)
    payout: Any = event.payload.get("payout")
    if status is None or not isinstance(payout, dict):
        return Outcome(IGNORED)
    async with executor.unit(sessions) as step:
        tx = await _transaction(step.reads, str(payout.get("idempotency_key") or ""))
    if tx is None or tx.idempotency_key is None:
        return Outcome(UNKNOWN_OBJECT, error="No payout transaction is this mock payment.")
    code = payout.get("error_code")
    result = PayoutResult(
        provider="mock",
        idempotency_key=tx.idempotency_key,
        status=status,  # type: ignore[arg-type]
        amount=Money(tx.amount, tx.currency),
        payee_id=tx.provider_payee_id,
        provider_transaction_id=str(payout.get("transaction_id") or "") or None,
        error_code=str(code) if code else None,
        error_message=f"mock {code}" if code else None,
        retryable=False,  # the mock sends payment.failed only for a failure for good
    )
    await execution.settle(sessions, tx.batch_id, {tx.idempotency_key: result}, policy)
    return Outcome(PROCESSED, tx.id, tx.account_id)


async def apply_mock_event(
    sessions: async_sessionmaker[AsyncSession],
    inbound_event_id: str,
    policy: execution.Policy = execution.Policy(),
) -> Outcome | None:
    """Process one stored webhook of the mock and record what it came to."""

    async def process_event(event: InboundEvent) -> Outcome:
        return await process(sessions, event, policy)

    return await apply_stored(sessions, inbound_event_id, PROVIDER, process_event)
