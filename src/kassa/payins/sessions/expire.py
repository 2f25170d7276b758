"""Expiring sessions: on demand (a pending session with nothing on chain) and when due.

Both run in one transaction holding the session's row (the request's, or one per session
for the scheduled job), so an expiry and a transfer being bound never both win."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.chain.models import REORGED
from kassa.core import audit, clock
from kassa.core.db import transaction
from kassa.jobs import emit
from kassa.payins.sessions.errors import SESSION_NOT_EXPIRABLE
from kassa.payins.sessions.models import EXPIRED, PENDING, PaymentSession
from kassa.payins.sessions.repository import get_session, quotes_of, transfers_of
from kassa.payins.sessions.schemas import PaymentSessionOut


async def _expire(
    session: AsyncSession, row: PaymentSession, *, actor: str | None
) -> dict[str, Any]:
    quotes = await quotes_of(session, row.id)
    transfers = await transfers_of(session, row.id)
    now = clock.now()
    # Expired now, even when asked before its time: a transfer in a later block is late.
    row.status, row.updated_at, row.expires_at = EXPIRED, now, min(row.expires_at, now)
    for quote in quotes:
        quote.open_key = None  # its amounts are free for other sessions
    audit.record(
        session,
        action="payment_session.expire",
        object_type="payment_session",
        object_id=row.id,
        account_id=row.account_id,
        before={"status": PENDING},
        after={"status": EXPIRED, "outcome": row.outcome},
        actor=actor,
    )
    data = PaymentSessionOut.of(row, quotes, transfers).json_value()
    emit(session, "payment_session.expired", data, account_id=row.account_id, livemode=row.livemode)
    return data


async def expire_session(
    session: AsyncSession, session_id: str, *, account_id: str, livemode: bool
) -> dict[str, Any]:
    """Expire a pending session now (the merchant cancels the order): refused once a
    transfer for it is on chain, which must be settled or refunded instead."""
    row = await get_session(
        session, session_id, account_id=account_id, livemode=livemode, for_update=True
    )
    live = [t for t in await transfers_of(session, row.id) if t.status != REORGED]
    if row.status != PENDING or live:
        raise SESSION_NOT_EXPIRABLE(
            f"The session is {row.status}"
            + (" with a transfer on chain" if live else "")
            + "; only a pending session with nothing paid can be expired."
        )
    return await _expire(session, row, actor=None)


async def expire_due(sessions: async_sessionmaker[AsyncSession], *, limit: int = 500) -> int:
    """Expire pending sessions past their expiry (a confirming one is left to complete: its
    transfer came in time; a partly paid one expires with its outcome kept). Returns how
    many expired."""
    async with sessions() as reads:
        due = list(
            await reads.scalars(
                select(PaymentSession.id)
                .where(PaymentSession.status == PENDING, PaymentSession.expires_at <= clock.now())
                .order_by(PaymentSession.expires_at)
                .limit(limit)
            )
        )
    expired = 0
    for session_id in due:
        async with transaction(sessions) as session:
            row = await session.scalar(
                select(PaymentSession).where(PaymentSession.id == session_id).with_for_update()
            )
            if row is None or row.status != PENDING or row.expires_at > clock.now():
                continue
            await _expire(session, row, actor="system")
            expired += 1
    return expired
