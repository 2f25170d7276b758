"""Bind the chain monitor's transfers to sessions, then settle those sessions.

The monitor hands over the ids of transfers it recorded or changed (job
``payins.sessions.apply_transfers``). A transfer not bound yet is matched, in this order:

1. by transaction hash: a session whose checkout page reported this transaction, paying
   one of its quotes' address and token (the hash is a claim; the log on chain is the fact);
2. by amount: the open session whose quote is exactly this token, address and amount;
3. by amount after expiry: the newest expired session with that exact quote and no transfer
   yet (its outcome becomes paid_late);

and otherwise stays unmatched (``chain_transfer.unmatched``), listed for the merchant to assign
by hand (unmatched.py). Every session a
transfer belongs to is then settled from all its transfers (settle.py).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.chain.models import REORGED, ChainTransfer
from kassa.chain.scanner import TRANSFERS_CHANGED
from kassa.core import clock, executor, ids
from kassa.core.changes import ChangeSet
from kassa.jobs import enqueue
from kassa.payins.sessions.errors import SESSION_NOT_OPEN, TRANSACTION_ALREADY_REPORTED
from kassa.payins.sessions.models import (
    EXPIRED,
    OPEN,
    PaymentSession,
    SessionQuote,
    SessionTransfer,
)
from kassa.payins.sessions.repository import get_session, quotes_of, transfers_of
from kassa.payins.sessions.settle import describe_settlement
from kassa.payins.sessions.unmatched import describe_unmatched


async def _bound_session(reads: AsyncSession, transfer: ChainTransfer) -> str | None:
    return await reads.scalar(
        select(SessionTransfer.session_id).where(SessionTransfer.transfer_id == transfer.id)
    )


def _pays(quote: SessionQuote, transfer: ChainTransfer) -> bool:
    return (
        quote.chain == transfer.chain
        and quote.token_address == transfer.token_address
        and quote.to_address == transfer.to_address
    )


async def _match(reads: AsyncSession, transfer: ChainTransfer) -> tuple[str, str] | None:
    """(session id, how) for an unbound transfer, or None."""
    reported = await reads.scalars(
        select(PaymentSession).where(PaymentSession.reported_tx_hash == transfer.tx_hash)
    )
    for session in reported:
        if any(_pays(q, transfer) for q in await quotes_of(reads, session.id)):
            return session.id, "tx_hash"
    key = f"{transfer.chain}:{transfer.token_address}:{transfer.to_address}:{transfer.value}"
    quote = await reads.scalar(select(SessionQuote).where(SessionQuote.open_key == key))
    if quote is not None:
        return quote.session_id, "amount"
    late = await reads.scalars(
        select(SessionQuote.session_id)
        .join(PaymentSession, PaymentSession.id == SessionQuote.session_id)
        .where(
            SessionQuote.chain == transfer.chain,
            SessionQuote.token_address == transfer.token_address,
            SessionQuote.to_address == transfer.to_address,
            SessionQuote.units == transfer.value,
            PaymentSession.status == EXPIRED,
            PaymentSession.tx_hash.is_(None),
        )
        .order_by(PaymentSession.expires_at.desc())
    )
    for session_id in late:
        if not await transfers_of(reads, session_id):
            return session_id, "amount"
    return None


async def apply_transfer(sessions: async_sessionmaker[AsyncSession], transfer_id: str) -> None:
    async def describe(reads: AsyncSession) -> tuple[ChangeSet, None]:
        changes = ChangeSet()
        transfer = await reads.get(ChainTransfer, transfer_id)
        if transfer is None:
            return changes, None
        session_id = await _bound_session(reads, transfer)
        if session_id is None and transfer.status != REORGED:
            found = await _match(reads, transfer)
            if found is not None:
                session_id, how = found
                changes.add(
                    SessionTransfer(
                        id=ids.new_id("pst"),
                        session_id=session_id,
                        transfer_id=transfer.id,
                        bound_by=how,
                        created_at=clock.now(),
                    )
                )
        if session_id is None:  # unmatched: the merchant assigns it (or it was re-orged)
            await describe_unmatched(reads, changes, transfer)
            return changes, None
        session = await reads.get(PaymentSession, session_id)
        assert session is not None
        transfers = await transfers_of(reads, session_id)
        if all(t.id != transfer.id for t in transfers):
            transfers.append(transfer)
        describe_settlement(
            changes, session, await quotes_of(reads, session_id), transfers, now=clock.now()
        )
        return changes, None

    await executor.commit_fresh(sessions, describe)


async def apply_transfers(
    sessions: async_sessionmaker[AsyncSession], transfer_ids: list[str]
) -> None:
    for transfer_id in transfer_ids:
        await apply_transfer(sessions, transfer_id)


async def report_transaction(
    session: AsyncSession, session_id: str, tx_hash: str, *, account_id: str, livemode: bool
) -> PaymentSession:
    """The checkout page (or the merchant) says which transaction pays the session: kept as
    a claim, and the transfers of that transaction the monitor recorded are handed to the
    binding job (those it records later are bound as they come). The chain decides what was
    paid, never the claim."""
    tx_hash = tx_hash.lower()
    row = await get_session(
        session, session_id, account_id=account_id, livemode=livemode, for_update=True
    )
    if row.reported_tx_hash == tx_hash:
        return row
    if row.reported_tx_hash is not None:
        raise TRANSACTION_ALREADY_REPORTED(
            "This session has another transaction reported already.", param="tx_hash"
        )
    if row.status not in OPEN:
        raise SESSION_NOT_OPEN(f"The session is {row.status}.")
    row.reported_tx_hash, row.updated_at = tx_hash, clock.now()
    known = list(
        await session.scalars(select(ChainTransfer.id).where(ChainTransfer.tx_hash == tx_hash))
    )
    if known:
        enqueue(session, TRANSFERS_CHANGED, {"transfer_ids": known})
    return row
