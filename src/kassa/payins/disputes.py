"""Disputes: a customer's claim against a payment, as its provider reports it.

kassa's statuses, the same for every provider (each provider's parser in
``payins/provider_events/`` maps its own onto them):

    needs_response   open; the provider waits for the merchant's evidence (evidence_due_by)
    under_review     open; evidence given (or an inquiry), the provider or bank decides
    won              final; the merchant keeps the money
    lost             final; the customer got the money back
    closed           final; ended without a decision on the money (an inquiry that went no
                     further, a case the buyer withdrew)

A dispute moves forward only: an open one may change in any way, a final one stays final
(a late "opened" after "won" changes nothing). Every change is audited and emitted
(``dispute.created``, ``dispute.updated``, ``dispute.closed`` on reaching a final status);
the payment's ``dispute_id`` names its latest dispute. A dispute does not change the
payment's status or amounts: money a lost dispute takes back is the provider's chargeback,
shown by the dispute.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import audit, clock
from kassa.core.changes import ChangeSet
from kassa.core.ids import new_id
from kassa.jobs import emit
from kassa.payins.models import Dispute, Payment
from kassa.payins.provider_events.updates import DisputeChanged
from kassa.payins.views import dispute_json

NEEDS_RESPONSE: Final = "needs_response"
UNDER_REVIEW: Final = "under_review"
WON: Final = "won"
LOST: Final = "lost"
CLOSED: Final = "closed"
STATUSES: Final = (NEEDS_RESPONSE, UNDER_REVIEW, WON, LOST, CLOSED)
FINAL: Final = frozenset({WON, LOST, CLOSED})


async def find(session: AsyncSession, provider: str, provider_dispute_id: str) -> Dispute | None:
    return await session.scalar(
        select(Dispute).where(
            Dispute.provider == provider, Dispute.provider_dispute_id == provider_dispute_id
        )
    )


def _record(changes: ChangeSet, dispute: Dispute, event_type: str, before: str | None) -> None:
    audit.record(
        changes,
        action=event_type,
        object_type="dispute",
        object_id=dispute.id,
        account_id=dispute.account_id,
        before={"status": before} if before else None,
        after={
            "status": dispute.status,
            "amount": dispute.amount,
            "payment_id": dispute.payment_id,
        },
    )
    emit(
        changes,
        event_type,
        dispute_json(dispute),
        account_id=dispute.account_id,
        livemode=dispute.livemode,
    )


def describe(
    changes: ChangeSet,
    payment: Payment,
    existing: Dispute | None,
    *,
    provider: str,
    update: DisputeChanged,
) -> Dispute | None:
    """Describe ``update`` applied to the payment's dispute (created if ``existing`` is
    None); returns the dispute, or None when nothing changes (a repeat, or a final dispute)."""
    now = clock.now()
    if existing is None:
        dispute = Dispute(
            id=new_id("dp"),
            account_id=payment.account_id,
            livemode=payment.livemode,
            payment_id=payment.id,
            provider=provider,
            provider_dispute_id=update.provider_dispute_id,
            status=update.status,
            currency=update.amount.currency,
            amount=update.amount.minor,
            reason=update.reason,
            evidence_due_by=update.evidence_due_by,
            closed_at=now if update.status in FINAL else None,
            created_at=now,
            updated_at=now,
        )
        changes.add(dispute)  # unique per provider: a concurrent twin fails, and is retried
        changes.guard(payment, "status")  # (a guard on a NULL column never matches)
        payment.dispute_id = dispute.id
        payment.updated_at = now
        _record(changes, dispute, "dispute.created", None)
        if dispute.status in FINAL:
            _record(changes, dispute, "dispute.closed", None)
        return dispute
    dispute = existing
    if dispute.status in FINAL:
        return None
    seen = (dispute.status, dispute.amount, dispute.currency, dispute.reason)
    if seen == (update.status, update.amount.minor, update.amount.currency, update.reason) and (
        update.evidence_due_by is None or update.evidence_due_by == dispute.evidence_due_by
    ):
        return None
    before = dispute.status
    changes.guard(dispute, "status")
    dispute.status = update.status
    dispute.amount = update.amount.minor
    dispute.currency = update.amount.currency
    dispute.reason = update.reason or dispute.reason
    dispute.evidence_due_by = update.evidence_due_by or dispute.evidence_due_by
    dispute.updated_at = now
    if dispute.status in FINAL:
        dispute.closed_at = now
        _record(changes, dispute, "dispute.closed", before)
    else:
        _record(changes, dispute, "dispute.updated", before)
    return dispute
