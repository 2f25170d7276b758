"""Refunding a payment session: deciding what goes back, to whom (refund_send.py sends it).

What can go back is what was received on chain, confirmed, in the token it came in, minus
every refund not failed. The decision is one change set guarded on the session's
``updated_at`` (which it moves on): two refunds decided at once read the same total, one
commits, the other reads again and sees the first one's refund (decision 0007).

A full refund sends back every base unit received (the sub-cent offset too); a partial one
the USD amount asked, converted exactly to the token's units.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.chain.config import Chain
from kassa.chain.models import CONFIRMED, ChainTransfer
from kassa.chain.units import USD_DECIMALS, base_units_to_text, usd_to_base_units
from kassa.core import audit, clock, executor, ids
from kassa.core.changes import ChangeSet
from kassa.core.errors import InvalidRequest
from kassa.core.money import Money
from kassa.jobs import enqueue
from kassa.payins.sessions.errors import REFUND_EXCEEDS_RECEIVED, SESSION_NOT_REFUNDABLE
from kassa.payins.sessions.models import (
    COMPLETED,
    EXPIRED,
    PAID_LATE,
    PAID_OVER,
    PAID_PARTIAL,
    REFUND_STATES,
    PaymentSession,
)
from kassa.payins.sessions.refund_models import (
    REFUND_FAILED,
    REFUND_PENDING,
    SessionRefund,
)
from kassa.payins.sessions.repository import get_session, transfers_of

SEND_JOB = "payins.sessions.refund_send"
_ADDRESS_HEX = 40


async def refunds_of(reads: AsyncSession, session_id: str) -> list[SessionRefund]:
    rows = await reads.scalars(
        select(SessionRefund)
        .where(SessionRefund.session_id == session_id)
        .order_by(SessionRefund.created_at, SessionRefund.id)
    )
    return list(rows)


def _refundable(session: PaymentSession) -> bool:
    if session.status == COMPLETED or session.status in REFUND_STATES:
        return True
    return session.status == EXPIRED and session.outcome in (PAID_LATE, PAID_PARTIAL)


def not_refundable_reason(session: PaymentSession) -> str:
    """Why a session that ``_refundable`` refuses cannot be refunded (a pending session paid
    in part holds money on chain, so "nothing was paid" would be wrong)."""
    state = session.status + (f" ({session.outcome})" if session.outcome else "")
    return (
        f"The session is {state}: only a completed session, or an expired one paid late or in "
        "part, can be refunded."
    )


def confirmed_receipt(transfers: Sequence[ChainTransfer]) -> tuple[ChainTransfer, int] | None:
    """The first confirmed transfer (its token, chain and payer) and the units received in
    that token on that chain."""
    confirmed = [t for t in transfers if t.status == CONFIRMED]
    if not confirmed:
        return None
    first = confirmed[0]
    units = sum(
        int(t.value)
        for t in confirmed
        if (t.chain, t.token_address) == (first.chain, first.token_address)
    )
    return first, units


def _default_reason(session: PaymentSession) -> str | None:
    return {
        PAID_LATE: "paid_late",
        PAID_OVER: "paid_over",
        PAID_PARTIAL: "paid_partial",
    }.get(session.outcome or "")


def checked_address(address: str) -> str:
    value = address.strip()
    digits = value.removeprefix("0x")
    if not value.startswith("0x") or len(digits) != _ADDRESS_HEX:
        raise InvalidRequest("to_address must be 0x and 40 hex digits.", param="to_address")
    try:
        int(digits, 16)
    except ValueError:
        raise InvalidRequest(
            "to_address must be 0x and 40 hex digits.", param="to_address"
        ) from None
    if int(digits, 16) == 0:
        raise InvalidRequest("to_address cannot be the zero address.", param="to_address")
    return value.lower()


async def create_refund(
    sessions: async_sessionmaker[AsyncSession],
    *,
    account_id: str,
    livemode: bool,
    session_id: str,
    amount: Money | None,
    to_address: str | None,
    reason: str | None,
    chains: dict[str, Chain],
) -> SessionRefund:
    """Decide a refund (status pending) and hand it to the sending job, in one commit."""
    if amount is not None:
        if amount.currency != "USD":
            raise InvalidRequest("Refunds are in USD, as the session.", param="amount.currency")
        if not amount.is_positive():
            raise InvalidRequest("The amount must be positive.", param="amount.value")
    target = checked_address(to_address) if to_address is not None else None

    async def describe(reads: AsyncSession) -> tuple[ChangeSet, SessionRefund]:
        session = await get_session(reads, session_id, account_id=account_id, livemode=livemode)
        if not _refundable(session):
            raise SESSION_NOT_REFUNDABLE(not_refundable_reason(session))
        found = confirmed_receipt(await transfers_of(reads, session.id))
        if found is None:
            raise SESSION_NOT_REFUNDABLE("No confirmed transfer pays this session.")
        paid, received = found
        chain = chains.get(paid.chain)
        token = chain.token_at(paid.token_address) if chain else None
        if chain is None or token is None:
            raise SESSION_NOT_REFUNDABLE(
                f"The chain {paid.chain} or its token is no longer configured."
            )
        taken = sum(
            int(r.units) for r in await refunds_of(reads, session.id) if r.status != REFUND_FAILED
        )
        left = received - taken
        if amount is None:
            units = left
            cents = left // 10 ** (token.decimals - USD_DECIMALS)
        else:
            units, cents = usd_to_base_units(amount, token.decimals), amount.minor
        if units <= 0 or units > left:
            raise REFUND_EXCEEDS_RECEIVED(
                f"{base_units_to_text(received, token.decimals)} {token.symbol} was received and "
                f"{base_units_to_text(taken, token.decimals)} refunded or being refunded: "
                f"{base_units_to_text(max(left, 0), token.decimals)} can still go back.",
                param="amount",
            )
        now = clock.now()
        changes = ChangeSet()
        changes.guard(session, "status", "updated_at")
        session.updated_at = now
        refund = SessionRefund(
            id=ids.new_id("psr"),
            session_id=session.id,
            account_id=account_id,
            livemode=livemode,
            status=REFUND_PENDING,
            amount=cents,
            currency="USD",
            chain=chain.key,
            chain_id=chain.chain_id,
            token_symbol=token.symbol,
            token_address=token.address,
            decimals=token.decimals,
            units=str(units),
            to_address=target or paid.from_address,
            reason=reason or _default_reason(session),
            failure_reason=None,
            waiting_reason=None,
            wallet=None,
            nonce=None,
            raw_tx=None,
            tx_hash=None,
            tx_hashes="",
            max_fee_per_gas=None,
            max_priority_fee_per_gas=None,
            sent_at_block=None,
            block_number=None,
            block_hash=None,
            confirmations=0,
            fee_paid=None,
            attempts=0,
            created_at=now,
            updated_at=now,
            submitted_at=None,
            confirmed_at=None,
        )
        audit.add_created(
            changes,
            refund,
            "payment_session_refund",
            account_id=account_id,
            after={"session": session.id, "units": str(units), "to": refund.to_address},
        )
        enqueue(changes, SEND_JOB, {"refund_id": refund.id})
        return changes, refund

    return await executor.commit_fresh(sessions, describe)
