"""Transfers to an account's receiving addresses, and assigning an unmatched one by hand.

A transfer the binding job could not match (bind.py: no reported hash, no exact amount)
stays unbound. The merchant, who knows which order it pays, assigns it to a session of the
same account paying the same chain, token and address; from then on the session's lifecycle
is the usual one (settle.py decides its status and outcome from all its transfers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.chain.models import REORGED, ChainTransfer, ReceivingAddress
from kassa.core import audit, clock, executor, ids
from kassa.core.changes import ChangeSet
from kassa.core.errors import NotFound
from kassa.jobs import emit
from kassa.payins.sessions.errors import (
    SESSION_ALREADY_PAID,
    SESSION_NOT_OPEN,
    TRANSFER_ALREADY_ASSIGNED,
    TRANSFER_REORGED,
    TRANSFER_SESSION_MISMATCH,
)
from kassa.payins.sessions.models import (
    CONFIRMING,
    PAID_PARTIAL,
    PENDING,
    SessionQuote,
    SessionTransfer,
)
from kassa.payins.sessions.repository import get_session, quotes_of, transfers_of
from kassa.payins.sessions.schemas import TransferOut
from kassa.payins.sessions.settle import describe_settlement

UNMATCHED_EVENT = "chain_transfer.unmatched"


def account_transfers(
    *, account_id: str, livemode: bool, matched: bool | None = None
) -> Select[Any]:
    """Transfers to the account's receiving addresses in this mode (``matched``: only those
    bound to a session, or only those not; None: all)."""
    query = select(ChainTransfer).join(
        ReceivingAddress,
        and_(
            ReceivingAddress.chain == ChainTransfer.chain,
            ReceivingAddress.address == ChainTransfer.to_address,
            ReceivingAddress.account_id == account_id,
            ReceivingAddress.livemode == livemode,
        ),
    )
    if matched is not None:
        bound = select(SessionTransfer.id).where(SessionTransfer.transfer_id == ChainTransfer.id)
        query = query.where(bound.exists() if matched else ~bound.exists())
    return query


async def decimals_of(reads: AsyncSession, transfer: ChainTransfer) -> int:
    """The token's decimals as its quotes recorded them (a watched token is a configured one,
    quoted by the sessions that accept it); 0 when never quoted."""
    found = await reads.scalar(
        select(SessionQuote.decimals)
        .where(
            SessionQuote.chain == transfer.chain,
            SessionQuote.token_address == transfer.token_address,
        )
        .limit(1)
    )
    return int(found) if found is not None else 0


async def describe_unmatched(
    reads: AsyncSession, changes: ChangeSet, transfer: ChainTransfer
) -> None:
    """``chain_transfer.unmatched`` to each account watching the address (one per mode), once:
    when the monitor has just recorded the transfer, not on its later confirmations or
    re-org moves (those change ``updated_at``)."""
    if transfer.status == REORGED or transfer.updated_at != transfer.seen_at:
        return
    owners = await reads.scalars(
        select(ReceivingAddress).where(
            ReceivingAddress.chain == transfer.chain,
            ReceivingAddress.address == transfer.to_address,
        )
    )
    data = TransferOut.of(transfer, await decimals_of(reads, transfer), None).json_value()
    for owner in owners:
        emit(changes, UNMATCHED_EVENT, data, account_id=owner.account_id, livemode=owner.livemode)


async def get_transfer(
    reads: AsyncSession, transfer_id: str, *, account_id: str, livemode: bool
) -> ChainTransfer:
    """The account's transfer; another account's id (or another mode's) is resource_missing."""
    query = account_transfers(account_id=account_id, livemode=livemode)
    row: ChainTransfer | None = await reads.scalar(query.where(ChainTransfer.id == transfer_id))
    if row is None:
        raise NotFound(f"No such chain transfer: {transfer_id!r}.", param="id")
    return row


async def bound_sessions(reads: AsyncSession, transfer_ids: list[str]) -> dict[str, str]:
    """transfer id -> the session it is bound to, for those bound."""
    if not transfer_ids:
        return {}
    rows = await reads.execute(
        select(SessionTransfer.transfer_id, SessionTransfer.session_id).where(
            SessionTransfer.transfer_id.in_(transfer_ids)
        )
    )
    return {t: s for t, s in rows}


@dataclass(frozen=True)
class Assigned:
    transfer: ChainTransfer
    session_id: str
    decimals: int


async def assign_transfer(
    sessions: async_sessionmaker[AsyncSession],
    transfer_id: str,
    session_id: str,
    *,
    account_id: str,
    livemode: bool,
) -> Assigned:
    """Bind an unmatched transfer to ``session_id`` and settle the session, with its audit
    entry and events, in one change set. Assigning it again to the same session changes
    nothing (the same answer)."""

    async def describe(reads: AsyncSession) -> tuple[ChangeSet, Assigned]:
        changes = ChangeSet()
        transfer = await get_transfer(reads, transfer_id, account_id=account_id, livemode=livemode)
        session = await get_session(reads, session_id, account_id=account_id, livemode=livemode)
        quotes = await quotes_of(reads, session.id)
        quote = next(
            (
                q
                for q in quotes
                if (q.chain, q.token_address, q.to_address)
                == (transfer.chain, transfer.token_address, transfer.to_address)
            ),
            None,
        )
        bound = (await bound_sessions(reads, [transfer.id])).get(transfer.id)
        if bound == session.id:
            return changes, Assigned(transfer, session.id, quote.decimals if quote else 0)
        if bound is not None:
            raise TRANSFER_ALREADY_ASSIGNED(
                f"The transfer pays payment session {bound} already.", param="id"
            )
        if transfer.status == REORGED:
            raise TRANSFER_REORGED("The transfer was re-orged out of the chain.", param="id")
        if quote is None:
            raise TRANSFER_SESSION_MISMATCH(
                f"The session is not paid with {transfer.token_symbol} to {transfer.to_address} "
                f"on {transfer.chain}.",
                param="payment_session",
            )
        if session.status not in (PENDING, CONFIRMING):
            raise SESSION_NOT_OPEN(f"The session is {session.status}.", param="payment_session")
        if session.status == CONFIRMING and session.outcome != PAID_PARTIAL:
            raise SESSION_ALREADY_PAID(
                "A transfer paying the session in full is being confirmed.",
                param="payment_session",
            )
        now = clock.now()
        changes.add(
            SessionTransfer(
                id=ids.new_id("pst"),
                session_id=session.id,
                transfer_id=transfer.id,
                bound_by="manual",
                created_at=now,
            )
        )
        transfers = [*await transfers_of(reads, session.id), transfer]
        before = {"status": session.status, "outcome": session.outcome}
        describe_settlement(changes, session, quotes, transfers, now=now)
        if all(g.instance is not session for g in changes.guards):
            # Still the same state (one more part of a partial payment): the session's row
            # is the guard all the same, so a concurrent change makes this read again.
            changes.guard(session, "status", "outcome", "updated_at")
            session.updated_at = now
        audit.record(
            changes,
            action="chain_transfer.assign",
            object_type="chain_transfer",
            object_id=transfer.id,
            account_id=account_id,
            before={"payment_session": None, **before},
            after={
                "payment_session": session.id,
                "status": session.status,
                "outcome": session.outcome,
            },
        )
        return changes, Assigned(transfer, session.id, quote.decimals)

    return await executor.commit_fresh(sessions, describe)
