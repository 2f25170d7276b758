"""Refunds the provider reports, applied to kassa's refunds.

Each refund the event shows (only succeeded ones move money):

- one kassa knows (same provider refund id, or kassa's refund id carried back) and still
  ``pending`` (kassa's own call has not recorded the answer yet) is settled ``succeeded``;
  one already settled changes nothing;
- else a pending kassa refund of the same amount that has no provider id yet is that one
  (its answer was lost or is late): settled;
- else it was made outside kassa (the provider's dashboard): it becomes a kassa refund,
  ``succeeded``, with ``refund.created`` and ``refund.succeeded`` events. Its idempotency key
  is ``<provider>:<provider refund id>`` (unique), so it is never recorded twice.

When the event also gives the provider's total refunded (Stripe's ``amount_refunded``, whose
charge does not list its refunds since API version 2022-11-15), what the refunds above leave
unaccounted becomes one more refund (a pending one of that amount, else a new one keyed by
the total). The payment becomes ``partially_refunded`` or ``refunded`` once, guarded on its
refunded and reserved amounts as read. Never more than was captured: a refund that would go
beyond is left out and the event's ``error`` says so.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock, executor
from kassa.core.changes import ChangeSet
from kassa.core.ids import new_id
from kassa.payins import lifecycle
from kassa.payins.models import Payment, Refund
from kassa.payins.provider_events.apply import Applied
from kassa.payins.provider_events.updates import Refunded
from kassa.payins.repository import get_payment
from kassa.payins.state import PARTIALLY_REFUNDED, PROCESSING, REFUNDABLE, REFUNDED


class PaymentNotSettled(Exception):
    """The payment is still processing: its refunds wait until kassa records the charge
    (the job is retried)."""


class _Plan:
    def __init__(self, changes: ChangeSet, payment: Payment, refunds: list[Refund]) -> None:
        self.changes = changes
        self.payment = payment
        self.refunds = refunds
        self.touched: list[Refund] = []
        self.notes: list[str] = []
        self.guarded = False

    def _guard_payment(self) -> None:
        if not self.guarded:
            self.changes.guard(self.payment, "status", "amount_refunded", "amount_refund_pending")
            self.guarded = True

    def _room(self, amount: int) -> bool:
        p = self.payment
        if p.amount_refunded + amount > p.amount_captured:
            self.notes.append(
                f"A refund of {amount} would refund more than the {p.amount_captured} kassa "
                "has captured; left out."
            )
            return False
        return True

    def settle(self, refund: Refund, provider_refund_id: str | None) -> None:
        if not self._room(refund.amount):
            return
        self._guard_payment()
        self.changes.guard(refund, status="pending")
        refund.status = "succeeded"
        refund.provider_refund_id = provider_refund_id or refund.provider_refund_id
        self.payment.amount_refund_pending -= refund.amount
        self.payment.amount_refunded += refund.amount
        lifecycle.refund_event(self.changes, refund, "refund.succeeded", "pending")
        self.touched.append(refund)

    def create(
        self, amount: int, *, key: str, provider_refund_id: str | None, reason: str | None
    ) -> None:
        if any(r.idempotency_key == key for r in self.refunds) or not self._room(amount):
            return
        self._guard_payment()
        p, now = self.payment, clock.now()
        refund = Refund(
            id=new_id("re"),
            account_id=p.account_id,
            livemode=p.livemode,
            payment_id=p.id,
            status="succeeded",
            currency=p.currency,
            amount=amount,
            reason=reason,
            metadata_={},
            provider=p.provider,
            provider_refund_id=provider_refund_id,
            idempotency_key=key,
            request_key=None,
            failure_code=None,
            failure_message=None,
            created_at=now,
            updated_at=now,
        )
        self.changes.add(refund)
        self.refunds.append(refund)
        p.amount_refunded += amount
        lifecycle.refund_event(self.changes, refund, "refund.created", None)
        lifecycle.refund_event(self.changes, refund, "refund.succeeded", None)
        self.touched.append(refund)

    def pending_of(self, amount: int) -> Refund | None:
        for refund in self.refunds:
            if (
                refund.status == "pending"
                and refund.provider_refund_id is None
                and refund.amount == amount
                and refund not in self.touched
            ):
                return refund
        return None

    def finish(self) -> None:
        if self.touched:
            p = self.payment
            full = p.amount_refunded >= p.amount_captured
            lifecycle.transition(self.changes, p, REFUNDED if full else PARTIALLY_REFUNDED)


def _describe(
    changes: ChangeSet, payment: Payment, refunds: list[Refund], kind: str, update: Refunded
) -> _Plan:
    plan = _Plan(changes, payment, refunds)
    for reported in update.refunds:
        if reported.status != "succeeded" or reported.amount.currency != payment.currency:
            continue  # pending ones are applied when they succeed (a later event)
        known = next(
            (
                r
                for r in refunds
                if r.provider_refund_id == reported.id or (reported.reference == r.id)
            ),
            None,
        )
        if known is not None:
            if known.status == "pending" and known not in plan.touched:
                plan.settle(known, reported.id)
            continue
        waiting = plan.pending_of(reported.amount.minor)
        if waiting is not None:
            plan.settle(waiting, reported.id)
            continue
        plan.create(
            reported.amount.minor,
            key=f"{kind}:{reported.id}",
            provider_refund_id=reported.id,
            reason=reported.reason,
        )
    total = update.total
    if total is not None and total.currency == payment.currency:
        gap = total.minor - payment.amount_refunded
        if gap > 0:
            waiting = plan.pending_of(gap)
            if waiting is not None:
                plan.settle(waiting, None)
            else:
                ref = update.payment_ids[0] if update.payment_ids else payment.id
                key = f"{kind}:{ref}/refunded/{total.minor}"
                plan.create(gap, key=key, provider_refund_id=None, reason=None)
    plan.finish()
    return plan


async def apply_refunds(
    sessions: async_sessionmaker[AsyncSession], payment_id: str, kind: str, update: Refunded
) -> Applied:
    async def run(reads: AsyncSession) -> tuple[ChangeSet, str | None]:
        changes = ChangeSet()
        payment = await get_payment(reads, payment_id)
        if payment.status == PROCESSING:
            raise PaymentNotSettled("The payment is still processing; its refund waits.")
        if payment.status not in REFUNDABLE and payment.status != REFUNDED:
            return (
                changes,
                f"The provider reports a refund; kassa has the payment {payment.status}.",
            )
        rows = await reads.scalars(select(Refund).where(Refund.payment_id == payment.id))
        plan = _describe(changes, payment, list(rows), kind, update)
        return changes, " ".join(plan.notes) or None

    note = await executor.commit_fresh(sessions, run)
    return Applied(payment_id, note)
