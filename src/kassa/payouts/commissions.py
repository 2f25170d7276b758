"""Subscription events in, commissions out: one commission per (event, affiliate), however
often the event arrives.

``describe`` reads what an event needs and adds its rows to ``writes`` (a change set for
the API, the job's own session for kassa's payment events): the subscription event, its
commission or adjustment, the ``commission.created`` event and the audit entry, together or
not at all. The unique (account, mode, event id) of subscription events and (affiliate,
subscription event) of commissions make a second delivery a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import audit, clock, executor
from kassa.core.changes import ChangeSet, Writes
from kassa.core.ids import new_id
from kassa.core.money import Money
from kassa.jobs import emit
from kassa.payouts import rules
from kassa.payouts.affiliates import by_code
from kassa.payouts.errors import AFFILIATE_UNKNOWN, SUBSCRIPTION_EVENT_INVALID
from kassa.payouts.models import Affiliate, Commission, SubscriptionEvent
from kassa.payouts.schemas import CommissionOut


@dataclass(frozen=True)
class NewEvent:
    account_id: str
    livemode: bool
    event_id: str
    type: str
    affiliate_code: str
    subscription_id: str
    amount: Money
    occurred_at: datetime
    source: str = "api"
    tier: str | None = None
    old_tier: str | None = None


@dataclass(frozen=True)
class Recorded:
    event: SubscriptionEvent
    commissions: list[Commission]
    created: bool  # False: the event had arrived before (this is what it did then)


def commission_json(commission: Commission) -> dict[str, object]:
    return CommissionOut.of(commission).json_value()


def _check(new: NewEvent) -> None:
    if new.type not in rules.TYPES:
        raise SUBSCRIPTION_EVENT_INVALID(f"Unknown subscription event type {new.type!r}.")
    if new.amount.minor < 0:
        raise SUBSCRIPTION_EVENT_INVALID("amount cannot be negative.", param="amount")
    if new.type == "upgrade" and not (new.old_tier and new.tier):
        raise SUBSCRIPTION_EVENT_INVALID(
            "An upgrade names old_tier and new_tier.", param="new_tier"
        )


async def find(reads: AsyncSession, new: NewEvent) -> Recorded | None:
    event = await reads.scalar(
        select(SubscriptionEvent).where(
            SubscriptionEvent.account_id == new.account_id,
            SubscriptionEvent.livemode == new.livemode,
            SubscriptionEvent.event_id == new.event_id,
        )
    )
    if event is None:
        return None
    commissions = (
        await reads.scalars(select(Commission).where(Commission.source_event_id == event.id))
    ).all()
    return Recorded(event, list(commissions), created=False)


async def _adjustment(
    reads: AsyncSession, affiliate: Affiliate, new: NewEvent
) -> tuple[int, Money] | None:
    """A refund's or chargeback's rate and (negative) amount: at the rate the subscription's
    latest commission earned with, never taking back more than its commissions still hold."""
    rows = (
        await reads.execute(
            select(Commission.rate_bps, Commission.amount, Commission.currency)
            .where(
                Commission.affiliate_id == affiliate.id,
                Commission.subscription_id == new.subscription_id,
            )
            .order_by(Commission.id)
        )
    ).all()
    same = [r for r in rows if r.currency == new.amount.currency]
    positive = [r for r in same if r.amount > 0]
    rate = positive[-1].rate_bps if positive else rules.rate_for(affiliate, new.tier)
    held = sum(r.amount for r in same)
    amount = -min(rules.earned(new.amount, rate).minor, max(held, 0))
    if amount == 0:
        return None
    return rate, Money(amount, new.amount.currency)


async def describe(reads: AsyncSession, writes: Writes, new: NewEvent) -> Recorded:
    """Read what ``new`` needs and add its rows to ``writes``."""
    _check(new)
    affiliate = await by_code(
        reads, account_id=new.account_id, livemode=new.livemode, code=new.affiliate_code
    )
    if affiliate is None and new.source == "api":
        raise AFFILIATE_UNKNOWN(
            f"No affiliate has code {new.affiliate_code!r}.", param="affiliate_code"
        )
    now = clock.now()
    event = SubscriptionEvent(
        id=new_id("sev"),
        account_id=new.account_id,
        livemode=new.livemode,
        event_id=new.event_id,
        type=new.type,
        source=new.source,
        affiliate_code=new.affiliate_code,
        affiliate_id=affiliate.id if affiliate else None,
        subscription_id=new.subscription_id,
        tier=new.tier,
        old_tier=new.old_tier,
        amount=new.amount.minor,
        currency=new.amount.currency,
        occurred_at=new.occurred_at,
        outcome="recorded",
        created_at=now,
    )
    commissions: list[Commission] = []
    kind, rate, amount, status = None, 0, None, "pending"
    if affiliate is None:
        event.outcome = "affiliate_unknown"
    elif new.type in rules.ADJUSTING:
        adjusted = await _adjustment(reads, affiliate, new)
        if adjusted is None:
            event.outcome = "nothing_to_adjust"
        else:
            (rate, amount), kind = adjusted, "adjustment"
            status = "approved"  # what is owed back nets against the next payout as it is
    elif new.type in rules.KIND_OF:
        if affiliate.status != "active":
            event.outcome = f"affiliate_{affiliate.status}"
        elif new.type == "renewal" and not affiliate.recurring:
            event.outcome = "not_recurring"
        else:
            kind, rate = rules.KIND_OF[new.type], rules.rate_for(affiliate, new.tier)
            amount = rules.earned(new.amount, rate)
    writes.add(event)
    if affiliate is not None and kind is not None and amount is not None:
        commission = Commission(
            id=new_id("com"),
            account_id=new.account_id,
            livemode=new.livemode,
            affiliate_id=affiliate.id,
            source_event_id=event.id,
            subscription_id=new.subscription_id,
            kind=kind,
            rate_bps=rate,
            base_amount=new.amount.minor,
            amount=amount.minor,
            currency=amount.currency,
            status=status,
            batch_id=None,
            transaction_id=None,
            approved_at=now if status == "approved" else None,
            paid_at=None,
            created_at=now,
            updated_at=now,
        )
        event.outcome = "adjusted" if kind == "adjustment" else "earned"
        writes.add(commission)
        commissions.append(commission)
        audit.record(
            writes,
            action="commission.create",
            object_type="commission",
            object_id=commission.id,
            account_id=new.account_id,
            after={"amount": amount.minor, "currency": amount.currency, "kind": kind},
        )
        emit(
            writes,
            "commission.created",
            commission_json(commission),
            account_id=new.account_id,
            livemode=new.livemode,
        )
    return Recorded(event, commissions, created=True)


async def record(sessions: async_sessionmaker[AsyncSession], new: NewEvent) -> Recorded:
    """Record ``new`` once: the same event id again answers with what it did the first time
    (also when two deliveries race: the loser's insert fails on the unique key)."""
    async with executor.unit(sessions) as step:
        known = await find(step.reads, new)
        if known is not None:
            return known
        changes = ChangeSet()
        recorded = await describe(step.reads, changes, new)
        try:
            await step.commit(changes)
        except IntegrityError:
            pass
        else:
            return recorded
    async with executor.unit(sessions) as step:
        known = await find(step.reads, new)
    assert known is not None  # the unique key that refused the insert names it
    return known


async def record_in(session: AsyncSession, new: NewEvent) -> Recorded:
    """Record ``new`` in ``session``'s transaction (a job's): nothing if it is known."""
    known = await find(session, new)
    if known is not None:
        return known
    return await describe(session, session, new)


async def refunded_so_far(session: AsyncSession, *, account_id: str, subscription_id: str) -> int:
    """What refund events of kassa's own payments recorded for ``subscription_id``."""
    total = await session.scalar(
        select(func.coalesce(func.sum(SubscriptionEvent.amount), 0)).where(
            SubscriptionEvent.account_id == account_id,
            SubscriptionEvent.subscription_id == subscription_id,
            SubscriptionEvent.source == "payment",
            SubscriptionEvent.type == "refund",
        )
    )
    return int(total or 0)


def list_query(
    *,
    account_id: str,
    livemode: bool,
    affiliate_id: str | None = None,
    status: str | None = None,
) -> Select[Commission]:
    query = select(Commission).where(
        Commission.account_id == account_id, Commission.livemode == livemode
    )
    if affiliate_id:
        query = query.where(Commission.affiliate_id == affiliate_id)
    if status:
        query = query.where(Commission.status == status)
    return query
