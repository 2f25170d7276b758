"""Reads of payment sessions: one account's own, with their quotes and bound transfers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.chain.models import ChainTransfer
from kassa.core.errors import NotFound
from kassa.payins.sessions.models import PaymentSession, SessionQuote, SessionTransfer


async def get_session(
    reads: AsyncSession,
    session_id: str,
    *,
    account_id: str,
    livemode: bool,
    for_update: bool = False,
) -> PaymentSession:
    """The account's session in this mode; another account's id is resource_missing.
    ``for_update`` locks its row for the caller's transaction."""
    query = select(PaymentSession).where(
        PaymentSession.id == session_id,
        PaymentSession.account_id == account_id,
        PaymentSession.livemode == livemode,
    )
    row = await reads.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise NotFound(f"No such payment session: {session_id!r}.", param="id")
    return row


async def quotes_of(reads: AsyncSession, session_id: str) -> list[SessionQuote]:
    rows = await reads.scalars(
        select(SessionQuote)
        .where(SessionQuote.session_id == session_id)
        .order_by(SessionQuote.chain, SessionQuote.token_symbol)
    )
    return list(rows)


async def transfers_of(reads: AsyncSession, session_id: str) -> list[ChainTransfer]:
    rows = await reads.scalars(
        select(ChainTransfer)
        .join(SessionTransfer, SessionTransfer.transfer_id == ChainTransfer.id)
        .where(SessionTransfer.session_id == session_id)
        .order_by(ChainTransfer.block_number, ChainTransfer.log_index)
    )
    return list(rows)


async def quotes_and_transfers(
    reads: AsyncSession, session_ids: list[str]
) -> dict[str, tuple[list[SessionQuote], list[ChainTransfer]]]:
    """Quotes and bound transfers of several sessions (a page of a list) in two queries,
    ordered as ``quotes_of`` and ``transfers_of`` order them."""
    found: dict[str, tuple[list[SessionQuote], list[ChainTransfer]]] = {
        sid: ([], []) for sid in session_ids
    }
    if not session_ids:
        return found
    quotes = await reads.scalars(
        select(SessionQuote)
        .where(SessionQuote.session_id.in_(session_ids))
        .order_by(SessionQuote.chain, SessionQuote.token_symbol)
    )
    for quote in quotes:
        found[quote.session_id][0].append(quote)
    transfers = await reads.execute(
        select(SessionTransfer.session_id, ChainTransfer)
        .join(ChainTransfer, SessionTransfer.transfer_id == ChainTransfer.id)
        .where(SessionTransfer.session_id.in_(session_ids))
        .order_by(ChainTransfer.block_number, ChainTransfer.log_index)
    )
    for session_id, transfer in transfers:
        found[session_id][1].append(transfer)
    return found
