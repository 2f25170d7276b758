"""Executing a payout batch through the payout provider, in the three steps of decision 0007.

- ``intend`` commits, before any call: the batch ``processing``, each transaction to send
  ``processing`` with one more attempt and its idempotency key (``<pot_ id>/send``: the same
  key on every retry, so the provider — Rise derives its salt from it — never pays twice);
- the provider call (``send_batch_payment``) runs outside any transaction;
- ``settle`` commits each transaction's result: ``completed`` (its commissions ``paid``),
  ``failed`` for good (its commissions ``failed``), back to ``pending`` with the next attempt
  after an exponential backoff when the provider may succeed later (until ``max_attempts``),
  or left ``processing`` when the provider has not said (``get_payment_status`` polls it).
  The batch is ``completed`` once nothing is open and something was paid, ``failed`` when
  everything failed.

Every settle is guarded on the transaction still being ``processing`` with that key, so a
poll, a Rise webhook (``provider_events``) and a late answer never settle it twice: whichever
commits first wins, the others find it settled and change nothing. A transaction settled
paid or failed for good emits ``payout.paid`` / ``payout.failed`` in the same commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import audit, clock, executor
from kassa.core.changes import ChangeSet, RowUpdate
from kassa.core.money import Money
from kassa.jobs import emit, enqueue
from kassa.payouts.models import Commission, PayoutBatch, PayoutTransaction
from kassa.payouts.schemas import PayoutBatchOut, PayoutOut
from kassa.providers.base import (
    BatchPayoutRequest,
    PayoutLookup,
    PayoutProvider,
    PayoutRequest,
    PayoutResult,
    ProviderError,
    TransientProviderError,
)

log = logging.getLogger("kassa.payouts")
EXECUTE_JOB = "payouts.execute_batch"
OPEN = ("pending", "processing")


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=6)

    def backoff(self, attempts: int) -> timedelta:
        return min(self.max_delay, self.base_delay * (1 << max(0, attempts - 1)))


def send_key(tx: PayoutTransaction) -> str:
    return f"{tx.id}/send"


async def _read(reads: AsyncSession, batch_id: str) -> tuple[PayoutBatch, list[PayoutTransaction]]:
    batch = await reads.scalar(select(PayoutBatch).where(PayoutBatch.id == batch_id))
    assert batch is not None, batch_id
    txs = (
        await reads.scalars(
            select(PayoutTransaction)
            .where(PayoutTransaction.batch_id == batch_id)
            .order_by(PayoutTransaction.id)
        )
    ).all()
    return batch, list(txs)


async def execute(
    sessions: async_sessionmaker[AsyncSession],
    provider: PayoutProvider,
    batch_id: str,
    policy: Policy = Policy(),
) -> PayoutBatch:
    """Send the batch's transactions that are due (new, or due for a retry)."""

    async def intend(reads: AsyncSession) -> tuple[ChangeSet, list[PayoutTransaction]]:
        batch, txs = await _read(reads, batch_id)
        changes = ChangeSet()
        if batch.status not in ("pending", "queued", "processing"):
            return changes, []  # cancelled, or finished
        now = clock.now()
        due = [
            t
            for t in txs
            if t.status == "pending" and (t.next_attempt_at is None or t.next_attempt_at <= now)
        ]
        if not due:
            return changes, []
        changes.guard(batch, status=batch.status)
        batch.status, batch.updated_at = "processing", now
        batch.executed_at = batch.executed_at or now
        for tx in due:
            changes.guard(tx, "attempts", status="pending")
            tx.status, tx.attempts, tx.idempotency_key = "processing", tx.attempts + 1, send_key(tx)
            tx.next_attempt_at, tx.updated_at = None, now
        return changes, due

    sent = await executor.commit_fresh(sessions, intend)
    if sent:
        round_ = max(t.attempts for t in sent)
        request = BatchPayoutRequest(
            idempotency_key=f"{batch_id}/{round_}",
            payouts=tuple(
                PayoutRequest(
                    idempotency_key=send_key(t),
                    payee_id=t.provider_payee_id,
                    amount=Money(t.amount, t.currency),
                    description=f"Commissions {t.id}",
                )
                for t in sent
            ),
        )
        try:
            answer = await provider.send_batch_payment(request)
            results = {r.idempotency_key: r for r in answer.results}
        except ProviderError as exc:  # the batch failed as a whole, before any of it went out
            results = {
                send_key(t): PayoutResult(
                    provider=provider.name,
                    idempotency_key=send_key(t),
                    status="failed",
                    amount=Money(t.amount, t.currency),
                    payee_id=t.provider_payee_id,
                    error_code=exc.code,
                    error_message=str(exc)[:500],
                    retryable=isinstance(exc, TransientProviderError),
                )
                for t in sent
            }
        await settle(sessions, batch_id, results, policy)
    async with executor.unit(sessions) as step:
        batch, _ = await _read(step.reads, batch_id)
    return batch


async def settle(
    sessions: async_sessionmaker[AsyncSession],
    batch_id: str,
    results: dict[str, PayoutResult],
    policy: Policy,
) -> None:
    """Record the provider's results (by idempotency key) of the batch's transactions."""

    async def describe(reads: AsyncSession) -> tuple[ChangeSet, None]:
        batch, txs = await _read(reads, batch_id)
        changes = ChangeSet()
        now = clock.now()
        retry_at: datetime | None = None
        for tx in txs:
            result = results.get(tx.idempotency_key or "")
            if tx.status != "processing" or result is None:
                continue
            changes.guard(tx, "idempotency_key", status="processing")
            tx.updated_at = now
            tx.provider_transaction_id = result.provider_transaction_id or (
                tx.provider_transaction_id
            )
            if result.status == "completed":
                tx.status, tx.completed_at = "completed", now
                tx.error_code = tx.error_message = None
                _commissions(changes, tx, status="paid", paid_at=now)
                _announce(changes, "payout.paid", tx, batch)
            elif (
                result.status == "failed"
                and result.retryable
                and (tx.attempts < policy.max_attempts)
            ):
                tx.status = "pending"
                tx.error_code, tx.error_message = result.error_code, result.error_message
                tx.next_attempt_at = now + policy.backoff(tx.attempts)
                retry_at = min(retry_at or tx.next_attempt_at, tx.next_attempt_at)
            elif result.status == "failed":
                tx.status = "failed"
                tx.error_code, tx.error_message = result.error_code, result.error_message
                _commissions(changes, tx, status="failed", paid_at=None)
                _announce(changes, "payout.failed", tx, batch)
            # pending, processing, unknown: the provider has not said; polling asks it
        statuses = [t.status for t in txs]
        if not any(s in OPEN for s in statuses) and batch.status == "processing":
            changes.guard(batch, status="processing")
            done = "completed" if "completed" in statuses else "failed"
            batch.status, batch.updated_at = done, now
            batch.completed_at = now
            if done == "failed":
                batch.error_message = "Every payment of the batch failed."
            audit.record(
                changes,
                action=f"payout_batch.{done}",
                object_type="payout_batch",
                object_id=batch.id,
                account_id=batch.account_id,
                after={"status": done},
            )
            emit(
                changes,
                f"payout.batch.{done}",
                PayoutBatchOut.of(batch, txs).json_value(),
                account_id=batch.account_id,
                livemode=batch.livemode,
            )
        if retry_at is not None:
            enqueue(changes, EXECUTE_JOB, {"batch_id": batch.id}, run_at=retry_at)
        return changes, None

    await executor.commit_fresh(sessions, describe)


def _announce(changes: ChangeSet, name: str, tx: PayoutTransaction, batch: PayoutBatch) -> None:
    """``payout.paid`` / ``payout.failed``, committed with the state they announce (their
    subscribers, the notification e-mails among them, are enqueued in the same commit)."""
    emit(
        changes,
        name,
        PayoutOut.of_batch(tx, batch).json_value(),
        account_id=tx.account_id,
        livemode=batch.livemode,
    )


def _commissions(
    changes: ChangeSet, tx: PayoutTransaction, *, status: str, paid_at: datetime | None
) -> None:
    table = Commission.__table__
    values: dict[str, object] = {"status": status, "updated_at": clock.now()}
    if paid_at is not None:
        values["paid_at"] = paid_at
    # affiliate_id first: the commissions of one affiliate are an index read
    # (ix_commissions_subscription); transaction_id alone has no index, a scan per transaction
    where = {"affiliate_id": tx.affiliate_id, "transaction_id": tx.id, "status": "queued"}
    changes.ride_along(RowUpdate(table, where, values))  # type: ignore[arg-type]


async def poll(
    sessions: async_sessionmaker[AsyncSession],
    provider_for: Callable[[], PayoutProvider],
    *,
    older_than: timedelta = timedelta(minutes=1),
    limit: int = 500,
    policy: Policy = Policy(),
) -> int:
    """Ask the provider about transactions still ``processing``; settle what it answers."""
    cutoff = clock.now() - older_than
    async with executor.unit(sessions) as step:
        open_txs = (
            await step.reads.scalars(
                select(PayoutTransaction)
                .where(
                    PayoutTransaction.status == "processing",
                    PayoutTransaction.updated_at <= cutoff,
                )
                .order_by(PayoutTransaction.updated_at)
                .limit(limit)
            )
        ).all()
    if not open_txs:
        return 0
    provider = provider_for()  # only now: an install without payouts never needs one
    by_batch: dict[str, dict[str, PayoutResult]] = {}
    for tx in open_txs:
        key = tx.idempotency_key or send_key(tx)
        try:
            found = await provider.get_payment_status(
                PayoutLookup(
                    idempotency_key=key,
                    payee_id=tx.provider_payee_id,
                    amount=Money(tx.amount, tx.currency),
                    provider_transaction_id=tx.provider_transaction_id,
                )
            )
        except ProviderError as exc:
            log.warning("payout status of %s unavailable: %s", tx.id, exc.code)
            continue
        if found is None:  # the provider never received it: send it again (same key)
            found = PayoutResult(
                provider=provider.name,
                idempotency_key=key,
                status="failed",
                amount=Money(tx.amount, tx.currency),
                payee_id=tx.provider_payee_id,
                error_code="not_received",
                retryable=True,
            )
        by_batch.setdefault(tx.batch_id, {})[key] = found
    for batch_id, results in by_batch.items():
        await settle(sessions, batch_id, results, policy)
    return len(open_txs)
