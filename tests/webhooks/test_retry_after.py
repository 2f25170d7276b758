"""A receiver's Retry-After never shrinks the retry schedule; it only delays, up to a cap.

The trial that found it: a receiver answering ``500`` with ``Retry-After: 2`` got all 8 attempts
within 15 s and the delivery was marked failed, the ~27 h schedule shrunk to seconds.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.core import clock
from kassa.core.settings import Settings
from kassa.webhooks.outbound.schedule import JITTER, delay_after_failure, parse_schedule
from tests.conftest import Backend
from tests.factories import Merchant
from tests.webhooks.conftest import create_endpoint, make_outbound
from tests.webhooks.helpers import attempts, deliveries
from tests.webhooks.receiver import Receiver, status

DEFAULT_SCHEDULE = str(Settings.model_fields["webhook_retry_schedule"].default)


@pytest.fixture
def frozen() -> clock.FrozenClock:
    fixed = clock.FrozenClock(clock.SystemClock().now())
    clock.install(fixed)  # the autouse fixture puts the system clock back
    return fixed


async def test_retry_after_2_keeps_the_whole_default_schedule(
    api: httpx.AsyncClient,
    db: Backend,
    tmp_path: Path,
    receiver: Receiver,
    acme: Merchant,
    frozen: clock.FrozenClock,
) -> None:
    schedule = parse_schedule(DEFAULT_SCHEDULE)
    assert len(schedule) == 8
    outbound = await make_outbound(db, tmp_path, webhook_retry_schedule=DEFAULT_SCHEDULE)
    receiver.behave("busy", status(500, headers={"Retry-After": "2"}))
    created = await create_endpoint(api, acme, receiver.url("busy"))
    start = frozen.now()
    await outbound.emit(acme)
    try:
        for n in range(1, len(schedule)):
            await outbound.drain()
            [delivery] = await deliveries(db, created["id"])
            assert delivery.status == "pending" and delivery.attempt_count == n
            assert delivery.next_attempt_at is not None
            waited = delivery.next_attempt_at - frozen.now()
            low, high = schedule[n] * (1 - JITTER), schedule[n] * (1 + JITTER)
            assert low <= waited <= high, (n, waited, schedule[n])
            frozen.advance(waited)  # exactly when the next attempt is due
        await outbound.drain()  # the last attempt
    finally:
        await outbound.deliverer.close()

    [delivery] = await deliveries(db, created["id"])
    assert delivery.status == "failed" and delivery.attempt_count == 8
    assert len(receiver.at("busy")) == 8
    log = await attempts(db, delivery.id)
    spent = log[-1].created_at - start
    assert spent >= sum(schedule, timedelta()) * (1 - JITTER)  # about 27 h, not 15 s
    assert spent > timedelta(hours=21)


async def test_a_long_retry_after_delays_the_next_attempt_up_to_the_cap(
    api: httpx.AsyncClient,
    db: Backend,
    tmp_path: Path,
    receiver: Receiver,
    acme: Merchant,
    frozen: clock.FrozenClock,
) -> None:
    outbound = await make_outbound(
        db, tmp_path, webhook_retry_schedule="0,10s,10s", webhook_retry_after_max_seconds=900
    )
    when = format_datetime(frozen.now() + timedelta(seconds=400), usegmt=True)
    receiver.behave("date", status(503, headers={"Retry-After": when}))
    receiver.behave("day", status(500, headers={"Retry-After": "86400"}))
    dated = await create_endpoint(api, acme, receiver.url("date"))
    daily = await create_endpoint(api, acme, receiver.url("day"))
    now = frozen.now()
    await outbound.emit(acme)
    await outbound.drain()
    [by_date] = await deliveries(db, dated["id"])
    [by_day] = await deliveries(db, daily["id"])
    assert by_date.next_attempt_at is not None and by_day.next_attempt_at is not None
    # an HTTP date 400 s ahead: the attempt waits until then, not the scheduled 10 s
    assert abs(by_date.next_attempt_at - (now + timedelta(seconds=400))) <= timedelta(seconds=1)
    # a day asked: KASSA_WEBHOOK_RETRY_AFTER_MAX_SECONDS (900 s) at most
    assert by_day.next_attempt_at == now + timedelta(seconds=900)

    frozen.advance(timedelta(seconds=60))  # past the schedule's 10 s: nothing is sent yet
    await outbound.drain()
    assert len(receiver.at("date")) == len(receiver.at("day")) == 1
    frozen.advance(timedelta(seconds=900 - 60))
    await outbound.drain()
    await outbound.deliverer.close()
    assert len(receiver.at("date")) == len(receiver.at("day")) == 2


@given(
    attempts_made=st.integers(min_value=0, max_value=7),
    asked=st.none() | st.integers(min_value=0, max_value=10**6).map(lambda s: timedelta(seconds=s)),
    cap=st.integers(min_value=0, max_value=10**5).map(lambda s: timedelta(seconds=s)),
)
def test_retry_after_only_ever_lengthens_the_scheduled_delay(
    attempts_made: int, asked: timedelta | None, cap: timedelta
) -> None:
    schedule = parse_schedule(DEFAULT_SCHEDULE)
    delay = delay_after_failure(schedule, attempts_made, retry_after=asked, retry_after_max=cap)
    scheduled = schedule[attempts_made] if attempts_made < len(schedule) else None
    if scheduled is None:
        assert delay is None
        return
    assert delay is not None
    assert delay >= scheduled * (1 - JITTER)  # never brought forward
    assert delay <= max(scheduled * (1 + JITTER), cap)  # delayed within the cap at most
    if asked is not None:
        assert delay >= min(asked, cap)
