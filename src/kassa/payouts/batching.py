"""What is due, what is held back and why, and payout batches made of it.

Due: per affiliate and currency, the approved commissions not yet in a batch, summed
(adjustments included, so a refund nets against what is unpaid; a negative or small sum
waits: it is carried forward). A sum is paid when the affiliate is active, has a payee at the
provider whose KYC is approved, the sum is positive and reaches the minimum payout, and the
provider pays in its currency. Otherwise it is held back with the reasons.

A batch groups payable sums by provider and currency, at most ``batch_size`` payees each
(PAYMENT_BATCH_SIZE; Rise takes 100), one transaction per payee. Its commissions move from
approved to queued in the same transaction that creates it, by one guarded UPDATE per payee
whose RETURNING gives the exact amounts summed: a commission approved meanwhile is either in
the sum or waits for the next batch, never half.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import audit, clock
from kassa.core.currencies import exponent
from kassa.core.errors import Conflict, NotFound
from kassa.core.ids import new_id
from kassa.jobs import emit, enqueue
from kassa.payouts.affiliates import require_affiliates
from kassa.payouts.errors import PAYOUT_BATCH_NOT_CANCELLABLE
from kassa.payouts.execution import EXECUTE_JOB
from kassa.payouts.models import Affiliate, Commission, Payee, PayoutBatch, PayoutTransaction
from kassa.payouts.schemas import PayoutBatchOut
from kassa.providers.errors import PROVIDER_TEST_MODE_ONLY

# What each provider pays in (the Rise client sends USD cents as amount_cents).
CURRENCIES = {"rise": frozenset({"USD"}), "mock": frozenset({"USD", "EUR", "GBP"})}
SIMULATED = frozenset({"mock"})  # moves no money: a live commission "paid" there never was
CANCELLABLE = ("pending", "queued")


@dataclass
class Due:
    affiliate_id: str
    currency: str
    amount: int
    count: int
    payee: Payee | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def payable(self) -> bool:
        return not self.reasons


def _pick_payee(payees: Sequence[Payee]) -> Payee | None:
    """The affiliate's payee to pay: one whose KYC is approved, else the newest."""
    approved = [p for p in payees if p.kyc_status == "approved" and p.provider_payee_id]
    if approved:
        return approved[-1]
    return payees[-1] if payees else None


async def due(
    reads: AsyncSession, *, account_id: str, livemode: bool, default_minimum: str
) -> list[Due]:
    """Every affiliate's approved, unbatched commissions per currency, checked."""
    sums = (
        await reads.execute(
            select(
                Commission.affiliate_id,
                Commission.currency,
                func.sum(Commission.amount),
                func.count(),
            )
            .where(
                Commission.account_id == account_id,
                Commission.livemode == livemode,
                Commission.status == "approved",
                Commission.batch_id.is_(None),
            )
            .group_by(Commission.affiliate_id, Commission.currency)
            .order_by(Commission.affiliate_id, Commission.currency)
        )
    ).all()
    if not sums:
        return []
    ids = sorted({row[0] for row in sums})
    affiliates = {
        a.id: a for a in (await reads.scalars(select(Affiliate).where(Affiliate.id.in_(ids))))
    }
    payees: dict[str, list[Payee]] = {}
    for payee in await reads.scalars(
        select(Payee).where(Payee.affiliate_id.in_(ids)).order_by(Payee.id)
    ):
        payees.setdefault(payee.affiliate_id, []).append(payee)
    found = []
    for affiliate_id, currency, amount, count in sums:
        item = Due(affiliate_id, currency, int(amount), int(count))
        affiliate = affiliates[affiliate_id]
        item.payee = _pick_payee(payees.get(affiliate_id, []))
        item.reasons = _reasons(affiliate, item, default_minimum)
        found.append(item)
    return found


def _minimum(affiliate: Affiliate, currency: str, default_minimum: str) -> int:
    """The affiliate's minimum in its currency; in another, the install's threshold read in
    that currency's units (PAYMENT_MINIMUM_THRESHOLD "50.00" is 50 yen), rounded up."""
    if affiliate.minimum_currency == currency:
        return affiliate.minimum_payout
    scaled = Decimal(default_minimum).scaleb(exponent(currency))
    return int(scaled.to_integral_value(rounding=ROUND_CEILING))


def _reasons(affiliate: Affiliate, item: Due, default_minimum: str) -> list[str]:
    reasons = []
    if affiliate.status != "active":
        reasons.append(f"affiliate_{affiliate.status}")
    payee = item.payee
    if payee is None:
        reasons.append("no_payee")
    elif not payee.provider_payee_id:
        reasons.append("payee_not_linked")
    elif payee.kyc_status != "approved":
        reasons.append(f"kyc_{payee.kyc_status}")
    if payee is not None and item.currency not in CURRENCIES.get(payee.provider, frozenset()):
        reasons.append("currency_not_supported")
    if item.amount <= 0:
        reasons.append("not_positive")
    elif item.amount < _minimum(affiliate, item.currency, default_minimum):
        reasons.append("below_minimum")
    return reasons


def _number(batch_id: str) -> str:
    return f"PB-{clock.now():%Y%m%d}-{batch_id[-8:]}"


async def create_batches(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    batch_size: int,
    default_minimum: str,
    affiliate_ids: Sequence[str] | None = None,
    run_key: str | None = None,
) -> list[PayoutBatch]:
    """Batches of everything payable now (of ``affiliate_ids`` only, when given), in
    ``session``'s transaction."""
    if affiliate_ids is not None:
        await require_affiliates(
            session, affiliate_ids, account_id=account_id, livemode=livemode,
            param="affiliate_ids",
        )  # fmt: skip
    items = await due(
        session, account_id=account_id, livemode=livemode, default_minimum=default_minimum
    )
    payable = [
        i for i in items if i.payable and (affiliate_ids is None or i.affiliate_id in affiliate_ids)
    ]
    groups: dict[tuple[str, str], list[Due]] = {}
    for item in payable:
        assert item.payee is not None
        groups.setdefault((item.payee.provider, item.currency), []).append(item)
    if livemode and any(provider in SIMULATED for provider, _ in groups):
        raise PROVIDER_TEST_MODE_ONLY(
            "The mock payout provider only simulates payouts: live-mode commissions are paid "
            "through Rise (the RISE_* settings, KASSA_PAYOUT_PROVIDER=rise)."
        )
    batches = []
    now = clock.now()
    for (provider, currency), members in sorted(groups.items()):
        for start in range(0, len(members), batch_size):
            chunk = members[start : start + batch_size]
            batch_id = new_id("pob")
            transactions = await _transactions(
                session, batch_id, account_id, livemode, currency, chunk
            )
            if not transactions:  # all taken by a concurrent run
                continue
            batch = PayoutBatch(
                id=batch_id,
                account_id=account_id,
                livemode=livemode,
                number=_number(batch_id),
                provider=provider,
                currency=currency,
                total=sum(t.amount for t in transactions),
                payment_count=len(transactions),
                status="queued",
                run_key=run_key,
                error_message=None,
                executed_at=None,
                completed_at=None,
                cancelled_at=None,
                created_at=now,
                updated_at=now,
            )
            session.add(batch)
            session.add_all(transactions)  # one flush writes the batch, then its transactions
            audit.record(
                session,
                action="payout_batch.create",
                object_type="payout_batch",
                object_id=batch.id,
                account_id=account_id,
                after={"total": batch.total, "currency": currency, "payments": len(transactions)},
            )
            enqueue(session, EXECUTE_JOB, {"batch_id": batch.id})
            emit(
                session,
                "payout.batch.created",
                PayoutBatchOut.of(batch, transactions).json_value(),
                account_id=account_id,
                livemode=livemode,
            )
            batches.append(batch)
    return batches


async def _transactions(
    session: AsyncSession,
    batch_id: str,
    account_id: str,
    livemode: bool,
    currency: str,
    chunk: Sequence[Due],
) -> list[PayoutTransaction]:
    """The chunk's commissions queued by ONE guarded UPDATE (each payee's to its own
    transaction, by a CASE on the affiliate) whose RETURNING gives the exact amounts summed:
    the statements of a batch do not grow with its payees or commissions."""
    now = clock.now()
    tx_ids = {item.affiliate_id: new_id("pot") for item in chunk}
    returned = (
        await session.execute(
            update(Commission)
            .where(
                Commission.account_id == account_id,
                Commission.livemode == livemode,
                Commission.affiliate_id.in_(list(tx_ids)),
                Commission.currency == currency,
                Commission.status == "approved",
                Commission.batch_id.is_(None),
            )
            .values(
                status="queued",
                batch_id=batch_id,
                transaction_id=case(tx_ids, value=Commission.affiliate_id),
                updated_at=now,
            )
            .returning(Commission.affiliate_id, Commission.amount)
            .execution_options(synchronize_session=False)
        )
    ).all()
    amounts: dict[str, list[int]] = {}
    for affiliate_id, amount in returned:
        amounts.setdefault(affiliate_id, []).append(int(amount))
    transactions = []
    for item in chunk:
        taken = amounts.get(item.affiliate_id)
        if not taken:
            continue
        total = sum(taken)
        if total <= 0:  # approvals or adjustments arrived since the check: try again
            raise Conflict("The commissions due changed while the batch was made; try again.")
        assert item.payee is not None and item.payee.provider_payee_id is not None
        transactions.append(
            PayoutTransaction(
                id=tx_ids[item.affiliate_id],
                account_id=account_id,
                batch_id=batch_id,
                payee_id=item.payee.id,
                affiliate_id=item.affiliate_id,
                provider_payee_id=item.payee.provider_payee_id,
                amount=total,
                currency=currency,
                commission_count=len(taken),
                status="pending",
                attempts=0,
                idempotency_key=None,
                provider_transaction_id=None,
                error_code=None,
                error_message=None,
                next_attempt_at=None,
                completed_at=None,
                created_at=now,
                updated_at=now,
            )
        )
    return transactions


async def get_batch(
    session: AsyncSession, batch_id: str, *, account_id: str, livemode: bool
) -> tuple[PayoutBatch, list[PayoutTransaction]]:
    batch = await session.scalar(
        select(PayoutBatch).where(
            PayoutBatch.id == batch_id,
            PayoutBatch.account_id == account_id,
            PayoutBatch.livemode == livemode,
        )
    )
    if batch is None:
        raise NotFound(f"No such payout batch: {batch_id!r}.", param="id")
    return batch, await transactions_of(session, [batch.id])


async def transactions_of(
    session: AsyncSession, batch_ids: Sequence[str]
) -> list[PayoutTransaction]:
    if not batch_ids:
        return []
    return list(
        (
            await session.scalars(
                select(PayoutTransaction)
                .where(PayoutTransaction.batch_id.in_(list(batch_ids)))
                .order_by(PayoutTransaction.id)
            )
        ).all()
    )


async def cancel_batch(
    session: AsyncSession, batch_id: str, *, account_id: str, livemode: bool
) -> tuple[PayoutBatch, list[PayoutTransaction]]:
    """Cancel a batch not yet executed: its commissions are approved and due again."""
    batch, _ = await get_batch(session, batch_id, account_id=account_id, livemode=livemode)
    now = clock.now()
    moved = await session.execute(
        update(PayoutBatch)
        .where(PayoutBatch.id == batch.id, PayoutBatch.status.in_(CANCELLABLE))
        .values(status="cancelled", cancelled_at=now, updated_at=now)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise PAYOUT_BATCH_NOT_CANCELLABLE(f"The payout batch is {batch.status}.")
    await session.execute(
        update(PayoutTransaction)
        .where(PayoutTransaction.batch_id == batch.id)
        .values(status="cancelled", updated_at=now)
    )
    await session.execute(
        update(Commission)
        .where(Commission.batch_id == batch.id, Commission.status == "queued")
        .values(status="approved", batch_id=None, transaction_id=None, updated_at=now)
    )
    audit.record(
        session,
        action="payout_batch.cancel",
        object_type="payout_batch",
        object_id=batch.id,
        account_id=account_id,
        after={"status": "cancelled"},
    )
    batch, transactions = await get_batch(
        session, batch_id, account_id=account_id, livemode=livemode
    )
    await session.refresh(batch)
    for tx in transactions:
        await session.refresh(tx)
    emit(
        session,
        "payout.batch.cancelled",
        PayoutBatchOut.of(batch, transactions).json_value(),
        account_id=account_id,
        livemode=livemode,
    )
    return batch, transactions
