"""Fan-out in batches: many events' first attempts in one go, each recorded exactly as alone,
and a slow receiver never holding the batch (or anyone else's deliveries) back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from aiohttp import web

from kassa.jobs.models import SUCCEEDED
from kassa.webhooks.outbound.delivery import FAN_OUT_JOB
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.jobs.conftest import count_jobs
from tests.webhooks.conftest import create_endpoint, make_outbound
from tests.webhooks.helpers import attempts, deliveries, endpoint
from tests.webhooks.receiver import Receiver


async def _fan_out_jobs_done(db: Backend) -> bool:
    from sqlalchemy import func, select

    from kassa.jobs.models import Job

    async with db.sessions() as session:
        left = await session.scalar(
            select(func.count()).where(Job.name == FAN_OUT_JOB, Job.status != SUCCEEDED)
        )
    return left == 0


async def test_a_slow_receiver_holds_only_its_own_deliveries_not_the_batch(
    api: httpx.AsyncClient, db: Backend, tmp_path: Path, receiver: Receiver, acme: Merchant
) -> None:
    outbound = await make_outbound(db, tmp_path, webhook_timeout_seconds=30)
    # Half the batch answers at once: the batch stops waiting soon after, far below this.
    outbound.deliverer.straggler_seconds = 20
    globex = await merchant(db.sessions, "Globex")
    receiver.hang("slow")
    fast = await create_endpoint(api, acme, receiver.url("fast"))
    slow = await create_endpoint(api, globex, receiver.url("slow"))
    fast_ids, slow_ids = [], []
    for _ in range(5):  # interleaved, so every batch holds both
        fast_ids.append(await outbound.emit(acme))
        slow_ids.append(await outbound.emit(globex))
    running = asyncio.create_task(outbound.drain())
    try:
        for _ in range(200):  # recorded while the slow ones hang
            if len(await deliveries(db, fast["id"])) == 5:
                break
            await asyncio.sleep(0.05)
        assert len(await deliveries(db, fast["id"])) == 5
        assert len(receiver.at("slow")) == 5 and await deliveries(db, slow["id"]) == []
        receiver.release.set()
        await running
    finally:
        receiver.release.set()
        await outbound.deliverer.close()
    for endpoint_id, ids in ((fast["id"], fast_ids), (slow["id"], slow_ids)):
        found = await deliveries(db, endpoint_id)
        assert sorted(d.event_id for d in found) == sorted(ids)
        assert {(d.status, d.attempt_count) for d in found} == {("succeeded", 1)}
    assert len(await attempts(db)) == 10 and len(receiver.received) == 10  # each sent once
    assert await _fan_out_jobs_done(db)


async def test_mixed_outcomes_in_a_batch_are_each_recorded_and_retried(
    api: httpx.AsyncClient, db: Backend, tmp_path: Path, receiver: Receiver, acme: Merchant
) -> None:
    outbound = await make_outbound(db, tmp_path)
    answered = 0

    async def every_other_fails_at_first(_: web.Request) -> web.StreamResponse:
        nonlocal answered
        answered += 1
        return web.Response(status=500 if answered <= 6 and answered % 2 else 200)

    receiver.behave("hook", every_other_fails_at_first)
    created = await create_endpoint(api, acme, receiver.url())
    ids = [await outbound.emit(acme, {"n": n}) for n in range(6)]
    try:
        await outbound.drain()
    finally:
        await outbound.deliverer.close()

    found = await deliveries(db, created["id"])
    assert sorted(d.event_id for d in found) == sorted(ids)
    assert {d.status for d in found} == {"succeeded"}
    assert sorted(d.attempt_count for d in found) == [1, 1, 1, 2, 2, 2]
    log = await attempts(db)
    assert len(log) == 9 and sum(not a.succeeded for a in log) == 3
    assert (await endpoint(db, created["id"])).failing_since is None  # it works again
    assert await count_jobs(db, FAN_OUT_JOB) == 6 and await _fan_out_jobs_done(db)
