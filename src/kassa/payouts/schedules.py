"""Scheduled payout runs: daily, weekly or monthly at a time in a time zone (the
PAYMENT_SCHEDULE_* settings; an affiliate may override frequency, time and zone).

The ``payouts.scheduled_run`` job ticks every minute (the jobs scheduler gives each tick to one
worker). A tick finds the affiliates with approved commissions waiting, works out each one's
latest slot, and runs a slot at most ``grace`` after its time, once: the run's key (account,
mode, schedule, slot) is inserted with the batches in one transaction under a unique
constraint, so a second worker or tick running the same slot finds it taken and writes
nothing. A slot on a listed holiday is skipped; what is due waits for the next slot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock
from kassa.core.db import transaction
from kassa.core.errors import InvalidRequest
from kassa.core.ids import new_id
from kassa.core.settings import Settings
from kassa.payouts.batching import create_batches
from kassa.payouts.models import Affiliate, Commission, PayoutBatch, PayoutRun

log = logging.getLogger("kassa.payouts")


@dataclass(frozen=True)
class Spec:
    frequency: str  # daily | weekly | monthly
    at: str  # HH:MM
    timezone: str
    weekday: int = 0  # weekly: Monday is 0
    month_day: int = 1  # monthly

    @property
    def key(self) -> str:
        return f"{self.frequency}@{self.at}/{self.timezone}/{self.weekday}/{self.month_day}"


def install_spec(settings: Settings) -> Spec:
    return Spec(
        settings.payment_schedule_frequency,
        settings.payment_schedule_daily_time,
        settings.payment_schedule_timezone,
        settings.payment_schedule_weekday,
        settings.payment_schedule_month_day,
    )


def holidays(settings: Settings) -> frozenset[date]:
    return frozenset(
        date.fromisoformat(d.strip())
        for d in settings.payment_schedule_holidays.split(",")
        if d.strip()
    )


def spec_of(affiliate: Affiliate, default: Spec) -> Spec:
    return replace(
        default,
        frequency=affiliate.schedule or default.frequency,
        at=affiliate.schedule_time or default.at,
        timezone=affiliate.schedule_timezone or default.timezone,
    )


def last_slot(spec: Spec, now: datetime) -> datetime:
    """The latest time at or before ``now`` when ``spec`` runs (aware, in its zone)."""
    zone = ZoneInfo(spec.timezone)
    local = now.astimezone(zone)
    hour, minute = (int(p) for p in spec.at.split(":"))

    def at(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)

    today = local.date()
    if spec.frequency == "daily":
        slot = at(today)
        return slot if slot <= local else at(today - timedelta(days=1))
    if spec.frequency == "weekly":
        day = today - timedelta(days=(today.weekday() - spec.weekday) % 7)
        slot = at(day)
        return slot if slot <= local else at(day - timedelta(days=7))
    slot = at(today.replace(day=spec.month_day))
    if slot <= local:
        return slot
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return at(date(year, month, spec.month_day))


async def _waiting(reads: AsyncSession) -> list[Affiliate]:
    """Affiliates with approved commissions not yet in a batch."""
    ids = select(Commission.affiliate_id).where(
        Commission.status == "approved", Commission.batch_id.is_(None)
    )
    return list(
        (await reads.scalars(select(Affiliate).where(Affiliate.id.in_(ids.distinct())))).all()
    )


async def run_due(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime | None = None
) -> list[PayoutBatch]:
    """Run every slot that is due now and was not run yet; the batches made."""
    if not settings.payment_schedule_enabled:
        return []
    now = now or clock.now()
    default, skip = install_spec(settings), holidays(settings)
    grace = timedelta(minutes=settings.payment_schedule_grace_minutes)
    async with sessions() as reads:
        waiting = await _waiting(reads)
    groups: dict[tuple[str, bool, str, datetime], list[str]] = {}
    for affiliate in waiting:
        spec = spec_of(affiliate, default)
        slot = last_slot(spec, now)
        if now - slot > grace or slot.date() in skip:
            continue
        key = (affiliate.account_id, affiliate.livemode, spec.key, slot.astimezone(UTC))
        groups.setdefault(key, []).append(affiliate.id)
    made: list[PayoutBatch] = []
    for (account_id, livemode, spec_key, slot), affiliate_ids in sorted(groups.items()):
        run_key = f"{account_id}/{'live' if livemode else 'test'}/{spec_key}/{slot:%Y-%m-%dT%H:%MZ}"
        try:
            made.extend(
                await run_slot(
                    sessions,
                    settings,
                    account_id=account_id,
                    livemode=livemode,
                    run_key=run_key,
                    slot=slot,
                    affiliate_ids=affiliate_ids,
                )
            )
        except InvalidRequest as refused:  # this account's run only: the others still go
            log.warning("payout run %s refused: %s (%s)", run_key, refused, refused.code)
    return made


async def run_slot(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    account_id: str,
    livemode: bool,
    run_key: str,
    slot: datetime,
    affiliate_ids: list[str] | None,
) -> list[PayoutBatch]:
    """Record the run and make its batches in one transaction; nothing if it ran already."""
    try:
        async with transaction(sessions) as session:
            run = PayoutRun(
                id=new_id("prun"),
                account_id=account_id,
                livemode=livemode,
                run_key=run_key,
                slot_at=slot,
                batch_count=0,
                created_at=clock.now(),
            )
            session.add(run)
            await session.flush()  # the unique run key: taken means another runner has it
            batches = await create_batches(
                session,
                account_id=account_id,
                livemode=livemode,
                batch_size=settings.payment_batch_size,
                default_minimum=settings.payment_minimum_threshold,
                affiliate_ids=affiliate_ids,
                run_key=run_key,
            )
            run.batch_count = len(batches)
    except IntegrityError:
        return []
    return batches
