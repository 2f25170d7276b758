"""Payout schedules: slots in time zones, per-affiliate overrides, holidays, and one run per
slot however many workers tick."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from kassa.core.settings import Settings
from kassa.payouts.schedules import Spec, last_slot, run_due
from tests.conftest import Backend
from tests.fakes.rise.server import RiseStandIn
from tests.payouts.conftest import World
from tests.payouts.test_batches import earn


def test_slots_in_their_time_zone() -> None:
    now = datetime(2026, 3, 4, 7, 30, tzinfo=UTC)  # a Wednesday; 08:30 in Berlin
    berlin = Spec("daily", "09:00", "Europe/Berlin")
    assert last_slot(berlin, now) == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # yesterday 09:00
    assert last_slot(Spec("daily", "08:00", "Europe/Berlin"), now) == datetime(
        2026, 3, 4, 7, 0, tzinfo=UTC
    )
    weekly = Spec("weekly", "00:00", "UTC", weekday=0)
    assert last_slot(weekly, now) == datetime(2026, 3, 2, tzinfo=UTC)  # Monday
    monthly = Spec("monthly", "12:00", "UTC", month_day=15)
    assert last_slot(monthly, now) == datetime(2026, 2, 15, 12, tzinfo=UTC)
    assert last_slot(monthly, datetime(2026, 1, 2, tzinfo=UTC)) == datetime(
        2025, 12, 15, 12, tzinfo=UTC
    )
    # New York's summer time: 09:00 local is 13:00 UTC in July
    ny = Spec("daily", "09:00", "America/New_York")
    assert last_slot(ny, datetime(2026, 7, 1, 14, tzinfo=UTC)) == datetime(
        2026, 7, 1, 13, tzinfo=UTC
    )


def scheduled(settings: Settings, **extra: object) -> Settings:
    values = {
        "payment_schedule_enabled": True,
        "payment_schedule_frequency": "daily",
        "payment_schedule_daily_time": "09:00",
        "payment_schedule_timezone": "UTC",
        **extra,
    }
    return settings.model_copy(update=values)


async def test_a_slot_runs_once_with_two_workers_and_holidays_wait(
    world: World, rise: RiseStandIn, db: Backend, settings: Settings
) -> None:
    ada = await world.affiliate("ada", rate_bps=10_000)
    await world.payable_payee(rise, ada)
    await earn(world, "ada", "60.00", 1)
    bob = await world.affiliate("bob", rate_bps=10_000, schedule="weekly")  # Mondays
    await world.payable_payee(rise, bob)
    await earn(world, "bob", "60.00", 1)
    wednesday = datetime(2026, 3, 4, 9, 5, tzinfo=UTC)
    holiday = scheduled(settings, payment_schedule_holidays="2026-03-04")
    assert await run_due(db.sessions, holiday, wednesday) == []
    late = wednesday + timedelta(hours=2)  # past the grace period: waits for the next slot
    assert await run_due(db.sessions, scheduled(settings), late) == []
    assert (
        await run_due(db.sessions, scheduled(settings, payment_schedule_enabled=False), wednesday)
        == []
    )

    on = scheduled(settings)
    first, second = await asyncio.gather(
        run_due(db.sessions, on, wednesday), run_due(db.sessions, on, wednesday)
    )
    made = first + second
    assert len(made) == 1  # two workers, one run
    [batch] = (await world.get("/v1/payout_batches"))["data"]
    assert [t["affiliate_id"] for t in batch["transactions"]] == [ada["id"]]  # bob: Mondays
    await earn(world, "ada", "70.00", 1, currency="USD")
    assert await run_due(db.sessions, on, wednesday + timedelta(minutes=1)) == []  # ran today
    thursday = wednesday + timedelta(days=1)
    [next_day] = await run_due(db.sessions, on, thursday)
    assert next_day.total == 7000
    monday = datetime(2026, 3, 9, 9, 1, tzinfo=UTC)
    [bobs] = await run_due(db.sessions, on, monday)
    assert bobs.total == 6000
