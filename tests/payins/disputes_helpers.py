"""A dispute opened on a payment as a provider's event would open it (the same use case)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import executor
from kassa.core.changes import ChangeSet
from kassa.core.ids import new_ulid
from kassa.core.money import Money
from kassa.payins import disputes
from kassa.payins.provider_events.updates import DisputeChanged
from kassa.payins.repository import get_payment


async def open_dispute(
    sessions: async_sessionmaker[AsyncSession], payment_id: str, *, provider: str = "stripe"
) -> str:
    """Open a dispute of the whole payment; returns its id."""

    async def describe(reads: AsyncSession) -> tuple[ChangeSet, str]:
        payment = await get_payment(reads, payment_id)
        change = DisputeChanged(
            payment_ids=(),
            provider_dispute_id=f"du_{new_ulid()}",
            status="needs_response",
            amount=Money(payment.amount, payment.currency),
            reason="fraudulent",
            evidence_due_by=None,
        )
        changes = ChangeSet()
        dispute = disputes.describe(changes, payment, None, provider=provider, update=change)
        assert dispute is not None
        return changes, dispute.id

    return await executor.commit_fresh(sessions, describe)
