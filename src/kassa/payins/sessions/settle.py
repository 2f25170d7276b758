"""A session's state from the transfers bound to it: the one place that decides it.

    received (in USD, from each transfer's token decimals) vs. the price:
    nothing on chain              -> pending (expired after expires_at)
    some transfer not confirmed   -> confirming
    all confirmed, >= price       -> completed (outcome paid, or paid_over past a cent over)
    all confirmed, <  price       -> pending, outcome paid_partial (the rest may come)
    first transfer in a block after expiry -> expired, outcome paid_late (never completed)

Re-orged transfers count as never made: a confirming session goes back to pending, and a
completed one too, announced as ``payment_session.reversed``. A session that is no longer
open (completed, expired) frees its unique amounts for other sessions; it does not need them
again: its transfers stay bound to it, wherever a re-org puts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from kassa.chain.models import CONFIRMED, REORGED, ChainTransfer
from kassa.core.changes import ChangeSet
from kassa.jobs import emit
from kassa.payins.sessions.models import (
    COMPLETED,
    CONFIRMING,
    EXPIRED,
    OPEN,
    PAID_EXACT,
    PAID_LATE,
    PAID_OVER,
    PAID_PARTIAL,
    PENDING,
    REFUND_STATES,
    PaymentSession,
    SessionQuote,
)
from kassa.payins.sessions.schemas import PaymentSessionOut

_SCALE = 18  # transfers of tokens with different decimals are summed at 18 decimals


def _usd18(value: int, decimals: int) -> int:
    scale: int = 10 ** (_SCALE - decimals)
    return value * scale


def _state(
    session: PaymentSession,
    quotes: Sequence[SessionQuote],
    live: Sequence[ChainTransfer],
) -> tuple[str, str | None]:
    if not live:
        return (EXPIRED if session.status == EXPIRED else PENDING), None
    if min(t.block_time for t in live) > session.expires_at:
        return EXPIRED, PAID_LATE  # paid in a block after the session expired
    decimals = {q.token_address: q.decimals for q in quotes}
    received = sum(_usd18(int(t.value), decimals.get(t.token_address, _SCALE)) for t in live)
    price = _usd18(session.amount, 2)
    cent = 10 ** (_SCALE - 2)
    if any(t.status != CONFIRMED for t in live):
        return CONFIRMING, (PAID_PARTIAL if received < price else None)
    if received < price:
        return PENDING, PAID_PARTIAL
    return COMPLETED, (PAID_OVER if received >= price + cent else PAID_EXACT)


def describe_settlement(
    changes: ChangeSet,
    session: PaymentSession,
    quotes: Sequence[SessionQuote],
    transfers: Sequence[ChainTransfer],
    *,
    now: datetime,
) -> str | None:
    """Put ``session``'s new state (and its event) into ``changes``; the event type, or None
    when nothing changed."""
    live = [t for t in transfers if t.status != REORGED]
    status, outcome = _state(session, quotes, live)
    before = session.status
    if (status, outcome) == (session.status, session.outcome):
        return None
    if before in REFUND_STATES and status in (COMPLETED, EXPIRED):
        return None  # still paid as before: the refunds decide its status now

    changes.guard(session, "status", "outcome", "updated_at")
    session.status, session.outcome, session.updated_at = status, outcome, now
    session.tx_hash = live[0].tx_hash if live else None
    session.confirmed_at = now if status == COMPLETED else None
    for quote in quotes:  # a closed session frees its amounts (for good: see the docstring)
        if status not in OPEN and quote.open_key is not None:
            changes.guard(quote, "open_key")
            quote.open_key = None
    event = _event(before, status, outcome)
    if event is not None:
        data = PaymentSessionOut.of(session, quotes, transfers).json_value()
        emit(changes, event, data, account_id=session.account_id, livemode=session.livemode)
    return event


def _event(before: str, status: str, outcome: str | None) -> str | None:
    if before == COMPLETED and status != COMPLETED:
        return "payment_session.reversed"
    if status == COMPLETED:
        return "payment_session.completed"
    if status == EXPIRED and outcome == PAID_LATE:
        return "payment_session.paid_late"
    if status == EXPIRED:
        return "payment_session.expired"
    if status == CONFIRMING and before != CONFIRMING:
        return "payment_session.confirming"
    return None
