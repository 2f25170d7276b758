"""Create a payment session: its price, its quotes (one per accepted token and chain where
the account has a receiving address), its expiry; the ``payment_session.created`` event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.chain.config import Chain
from kassa.chain.models import ReceivingAddress
from kassa.core import audit, clock, ids
from kassa.core.db import is_postgres
from kassa.core.money import Money
from kassa.jobs import emit
from kassa.payins.sessions.errors import (
    CHAIN_NOT_CONFIGURED,
    NO_RECEIVING_ADDRESS,
    SESSION_AMOUNTS_EXHAUSTED,
    TOKEN_NOT_ACCEPTED,
)
from kassa.payins.sessions.models import PENDING, PaymentSession, SessionQuote
from kassa.payins.sessions.quotes import Wanted, free_units, open_key
from kassa.payins.sessions.schemas import PaymentSessionOut

_RETRIES = 20  # concurrent creations racing for the same amount: take the next one


@dataclass(frozen=True)
class NewSession:
    account_id: str
    livemode: bool
    amount: Money
    description: str | None
    metadata: dict[str, str]
    success_url: str | None
    cancel_url: str | None
    chains: list[str] | None  # None: every configured chain the account can be paid on
    tokens: list[str] | None  # None: every configured token of those chains
    expires_in: timedelta


async def _wanted(reads: AsyncSession, new: NewSession, chains: dict[str, Chain]) -> list[Wanted]:
    keys = new.chains if new.chains is not None else sorted(chains)
    for key in keys:
        if key not in chains:
            raise CHAIN_NOT_CONFIGURED(
                f"Chain {key!r} is not configured; configured: {', '.join(sorted(chains)) or 'none'}.",
                param="chains",
            )
    addresses = {
        row.chain: row.address
        for row in await reads.scalars(
            select(ReceivingAddress).where(
                ReceivingAddress.account_id == new.account_id,
                ReceivingAddress.livemode == new.livemode,
                ReceivingAddress.chain.in_(keys),
            )
        )
    }
    wanted: list[Wanted] = []
    symbols_seen: set[str] = set()
    for key in keys:
        chain = chains[key]
        for token in chain.tokens:
            symbols_seen.add(token.symbol)
            if new.tokens is not None and token.symbol not in new.tokens:
                continue
            if key in addresses:
                wanted.append(Wanted(chain, token, addresses[key]))
    for symbol in new.tokens or ():
        if symbol not in symbols_seen:
            raise TOKEN_NOT_ACCEPTED(
                f"Token {symbol!r} is not configured on {', '.join(keys)}.", param="tokens"
            )
    if not wanted:
        raise NO_RECEIVING_ADDRESS(
            "Add a receiving address (POST /v1/receiving_addresses) on one of "
            f"{', '.join(keys) or 'the configured chains'} first.",
            param="chains",
        )
    return wanted


async def create_session(
    session: AsyncSession, new: NewSession, chains: dict[str, Chain]
) -> dict[str, Any]:
    """Add the new session to ``session``'s transaction; returns it as the API shows it.

    Two creations racing for one amount: the unique open amount is the database's to guard.
    The quotes go in with ``ON CONFLICT (open_key) DO NOTHING``: an amount another session
    took in the meantime is simply not inserted (no error, no savepoint, nothing rolled
    back), and only that quote takes another free amount."""
    now = clock.now()
    row = PaymentSession(
        id=ids.new_id("ps"),
        account_id=new.account_id,
        livemode=new.livemode,
        status=PENDING,
        outcome=None,
        amount=new.amount.minor,
        currency=new.amount.currency,
        description=new.description,
        metadata_=dict(new.metadata),
        success_url=new.success_url,
        cancel_url=new.cancel_url,
        reported_tx_hash=None,
        tx_hash=None,
        expires_at=now + new.expires_in,
        confirmed_at=None,
        created_at=now,
        updated_at=now,
    )
    wanted = await _wanted(session, new, chains)
    audit.add_created(
        session,
        row,
        "payment_session",
        account_id=new.account_id,
        after={"amount": new.amount.to_json(), "quotes": len(wanted)},
    )
    await session.flush()  # the quotes' foreign key
    taken: dict[tuple[str, str], set[int]] = {}
    placed: dict[int, SessionQuote] = {}  # by the index of its ``wanted``
    for attempt in range(_RETRIES):
        missing = [i for i in range(len(wanted)) if i not in placed]
        quotes = await _quotes(
            session, row, new.amount, [wanted[i] for i in missing], taken, spread=attempt > 0
        )
        inserted = await _insert(session, quotes)
        for i, quote in zip(missing, quotes, strict=True):
            if quote.open_key in inserted:
                placed[i] = quote
        if len(placed) < len(wanted):
            continue  # another session took one of these amounts in the meantime
        ordered = [placed[i] for i in range(len(wanted))]
        data = PaymentSessionOut.of(row, ordered).json_value()
        emit(
            session,
            "payment_session.created",
            data,
            account_id=new.account_id,
            livemode=new.livemode,
        )
        return data
    raise SESSION_AMOUNTS_EXHAUSTED("Too many sessions are being created for this price now.")


async def _insert(session: AsyncSession, quotes: list[SessionQuote]) -> set[str]:
    """INSERT the quotes whose amount no open session holds; the open keys inserted.

    One statement, never an error: on PostgreSQL a key held by a creation still in flight
    waits for it to commit (then is skipped) or roll back (then is inserted)."""
    insert = pg_insert if is_postgres(session) else sqlite_insert
    columns = [c.key for c in SessionQuote.__table__.columns]
    statement = (
        insert(SessionQuote)
        .values([{c: getattr(q, c) for c in columns} for q in quotes])
        .on_conflict_do_nothing(index_elements=["open_key"])
        .returning(SessionQuote.open_key)
    )
    return {str(key) for key in await session.scalars(statement)}


async def _quotes(
    session: AsyncSession,
    row: PaymentSession,
    price: Money,
    wanted: list[Wanted],
    taken: dict[tuple[str, str], set[int]],
    *,
    spread: bool,
) -> list[SessionQuote]:
    quotes: list[SessionQuote] = []
    for want in wanted:
        key = (want.chain.key, want.token.address)
        units = await free_units(
            session, want, price, skip=frozenset(taken.get(key, ())), spread=spread
        )
        if units is None:
            raise SESSION_AMOUNTS_EXHAUSTED(
                f"Every amount for {price} in {want.token.symbol} on {want.chain.key} is held "
                "by an open session; try again when one completes or expires."
            )
        taken.setdefault(key, set()).add(units)
        quotes.append(
            SessionQuote(
                id=ids.new_id("psq"),
                session_id=row.id,
                chain=want.chain.key,
                chain_id=want.chain.chain_id,
                token_symbol=want.token.symbol,
                token_address=want.token.address,
                decimals=want.token.decimals,
                to_address=want.address,
                units=str(units),
                open_key=open_key(want.chain, want.token, want.address, units),
            )
        )
    return quotes
