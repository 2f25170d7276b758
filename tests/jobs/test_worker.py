"""The worker in-process: success, retries, backoff, dead letters, timeouts, leases, shutdown."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from kassa.core.clock import FrozenClock
from kassa.core.db import transaction
from kassa.jobs import store
from kassa.jobs.models import DEAD, QUEUED, RUNNING, SUCCEEDED, Job
from kassa.jobs.outbox import enqueue
from kassa.jobs.registry import JobContext, JobRegistry, Retry, default_backoff
from tests.conftest import Backend
from tests.jobs.conftest import add_job, count_jobs, load, make_worker


async def test_a_job_runs_once_and_is_marked_succeeded(db: Backend, registry: JobRegistry) -> None:
    seen: list[tuple[str, dict[str, object], int]] = []

    async def handler(ctx: JobContext) -> None:
        seen.append((ctx.id, ctx.args, ctx.attempt))

    registry.register("test.hello", handler)
    job_id = await add_job(db, "test.hello", {"who": "world"})
    worker = make_worker(db, registry)

    assert await worker.run_due() == 1
    assert await worker.run_due() == 0
    assert seen == [(job_id, {"who": "world"}, 1)]
    job = await load(db, job_id)
    assert (job.status, job.attempts, job.locked_by, job.last_error) == (SUCCEEDED, 1, None, None)
    assert job.finished_at is not None


async def test_a_job_is_not_run_before_its_time(
    db: Backend, registry: JobRegistry, frozen: FrozenClock
) -> None:
    ran: list[str] = []

    async def handler(ctx: JobContext) -> None:
        ran.append(ctx.id)

    registry.register("test.later", handler)
    job_id = await add_job(db, "test.later", delay=timedelta(minutes=5))
    worker = make_worker(db, registry)
    assert await worker.run_due() == 0
    frozen.advance(timedelta(minutes=5))
    assert await worker.run_due() == 1
    assert ran == [job_id]


def test_default_backoff_is_exponential_with_jitter() -> None:
    for attempt in (1, 2, 3, 6):
        delays = {default_backoff(attempt).total_seconds() for _ in range(50)}
        base = 2.0 * 2 ** (attempt - 1)
        assert all(0.8 * base <= d <= 1.2 * base for d in delays)
        assert len(delays) > 1  # jittered, so retries of many jobs do not arrive together
    assert default_backoff(40) <= timedelta(hours=1, minutes=12)  # capped


async def test_a_failing_job_backs_off_then_goes_dead_keeping_its_error(
    db: Backend, registry: JobRegistry, frozen: FrozenClock
) -> None:
    calls: list[int] = []

    async def handler(ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        raise ValueError(f"card processor said no (try {ctx.attempt})")

    registry.register("test.flaky", handler, max_attempts=3)
    job_id = await add_job(db, "test.flaky", max_attempts=3)
    worker = make_worker(db, registry)

    waits = []
    for expected_attempt in (1, 2):
        assert await worker.run_due() == 1
        job = await load(db, job_id)
        assert (job.status, job.attempts) == (QUEUED, expected_attempt)
        assert job.last_error == f"ValueError: card processor said no (try {expected_attempt})"
        waits.append(job.run_at - frozen.now())
        assert await worker.run_due() == 0  # not before its backoff
        frozen.set(job.run_at)

    assert timedelta(seconds=1.6) <= waits[0] <= timedelta(seconds=2.4)
    assert timedelta(seconds=3.2) <= waits[1] <= timedelta(seconds=4.8)
    assert await worker.run_due() == 1
    job = await load(db, job_id)
    assert (job.status, job.attempts) == (DEAD, 3)
    assert job.last_error == "ValueError: card processor said no (try 3)"
    assert job.finished_at == frozen.now()
    frozen.advance(timedelta(days=1))
    assert await worker.run_due() == 0  # dead jobs stay dead
    assert calls == [1, 2, 3]


async def test_retry_after_schedules_the_next_run_at_that_time(
    db: Backend, registry: JobRegistry, frozen: FrozenClock
) -> None:
    async def handler(ctx: JobContext) -> None:
        if ctx.attempt == 1:
            raise Retry(after=timedelta(minutes=7), reason="provider asked us to wait")

    registry.register("test.polite", handler)
    job_id = await add_job(db, "test.polite")
    worker = make_worker(db, registry)
    await worker.run_due()
    job = await load(db, job_id)
    assert (job.status, job.attempts, job.last_error) == (QUEUED, 1, "provider asked us to wait")
    assert job.run_at == frozen.now() + timedelta(minutes=7)
    frozen.advance(timedelta(minutes=7))
    assert await worker.run_due() == 1
    assert (await load(db, job_id)).status == SUCCEEDED


async def test_a_handler_timeout_counts_as_a_failure(
    db: Backend, registry: JobRegistry, frozen: FrozenClock
) -> None:
    async def hangs(ctx: JobContext) -> None:
        await asyncio.Event().wait()

    registry.register("test.hangs", hangs, timeout_seconds=0.05, max_attempts=2)
    job_id = await add_job(db, "test.hangs", max_attempts=2)
    worker = make_worker(db, registry)
    await worker.run_due()
    job = await load(db, job_id)
    assert (job.status, job.attempts, job.last_error) == (QUEUED, 1, "timed out after 0.05s")
    assert job.run_at > frozen.now()
    frozen.set(job.run_at)
    await worker.run_due()
    assert (await load(db, job_id)).status == DEAD


async def test_an_unknown_job_is_kept_for_later_not_lost(
    db: Backend, registry: JobRegistry, frozen: FrozenClock
) -> None:
    job_id = await add_job(db, "test.from_the_future", {"x": 1})
    worker = make_worker(db, registry, unknown_job_delay=timedelta(minutes=2))
    for _ in range(15):  # more times than it has attempts: still not dead
        assert await worker.run_due() == 1
        job = await load(db, job_id)
        assert (job.status, job.attempts) == (QUEUED, 0)
        assert "no handler registered" in (job.last_error or "")
        assert job.run_at == frozen.now() + timedelta(minutes=2)
        frozen.advance(timedelta(minutes=2))

    ran: list[dict[str, object]] = []

    async def handler(ctx: JobContext) -> None:
        ran.append(ctx.args)

    registry.register("test.from_the_future", handler)  # e.g. the new release is deployed
    assert await worker.run_due() == 1
    assert ran == [{"x": 1}]
    assert (await load(db, job_id)).status == SUCCEEDED


async def test_a_db_handler_commits_its_writes_with_the_job(
    db: Backend, registry: JobRegistry, frozen: FrozenClock
) -> None:
    async def handler(ctx: JobContext) -> None:
        enqueue(ctx.session, "test.follow_up", {"after": ctx.id})  # a write in the job's tx
        if ctx.attempt == 1:
            raise RuntimeError("fails after writing")

    registry.register("test.writes", handler)
    job_id = await add_job(db, "test.writes")
    worker = make_worker(db, registry)

    await worker.run_due()  # attempt 1 wrote, then failed: the write is rolled back
    assert (await load(db, job_id)).status == QUEUED
    assert await count_jobs(db, "test.follow_up") == 0
    frozen.advance(timedelta(minutes=1))
    await worker.run_due()  # attempt 2: the write and the completion commit together
    assert (await load(db, job_id)).status == SUCCEEDED
    assert await count_jobs(db, "test.follow_up") == 1


async def test_a_handler_that_lost_its_lease_has_its_writes_rolled_back(
    db: Backend, registry: JobRegistry
) -> None:
    async def handler(ctx: JobContext) -> None:
        # Meanwhile our lease ran out and another worker took the job over.
        async with transaction(ctx.sessions) as other:
            await other.execute(
                update(Job).where(Job.id == ctx.id).values(locked_by="another-worker")
            )
        enqueue(ctx.session, "test.follow_up")

    registry.register("test.slowpoke", handler)
    job_id = await add_job(db, "test.slowpoke")
    await make_worker(db, registry).run_due()

    job = await load(db, job_id)
    assert (job.status, job.locked_by) == (RUNNING, "another-worker")  # theirs now, untouched
    assert await count_jobs(db, "test.follow_up") == 0


async def test_expired_leases_are_requeued_and_run_by_another_worker(
    db: Backend, registry: JobRegistry, frozen: FrozenClock
) -> None:
    ran: list[int] = []

    async def handler(ctx: JobContext) -> None:
        ran.append(ctx.attempt)

    registry.register("test.orphan", handler)
    job_id = await add_job(db, "test.orphan")
    async with transaction(db.sessions) as session:  # a worker claims it, then is SIGKILLed
        claimed = await store.claim(session, "dead-worker", 10, timedelta(seconds=60))
    assert [j.id for j in claimed] == [job_id]

    survivor = make_worker(db, registry, lease_seconds=60)
    assert await survivor.maintain() == 0  # the lease has not run out yet
    assert await survivor.run_due() == 0
    frozen.advance(timedelta(seconds=61))
    assert await survivor.maintain() == 1
    job = await load(db, job_id)
    assert (job.status, job.attempts, job.locked_by) == (QUEUED, 1, None)
    assert job.last_error == "lease expired: the worker running it stopped"
    assert await survivor.run_due() == 1
    assert ran == [2]
    assert (await load(db, job_id)).status == SUCCEEDED


async def test_a_job_that_kills_every_worker_ends_dead(
    db: Backend, registry: JobRegistry, frozen: FrozenClock
) -> None:
    registry.register("test.poison", lambda ctx: asyncio.sleep(0))
    job_id = await add_job(db, "test.poison", max_attempts=2)
    for _ in range(2):
        async with transaction(db.sessions) as session:
            await store.claim(session, "doomed-worker", 10, timedelta(seconds=5))
        frozen.advance(timedelta(seconds=6))
        await make_worker(db, registry).maintain()
    await make_worker(db, registry).run_due()
    job = await load(db, job_id)
    assert job.status == DEAD
    assert job.last_error == "gave up: the job's worker stopped too many times"


async def test_graceful_shutdown_finishes_or_releases_running_jobs(
    db: Backend, registry: JobRegistry
) -> None:
    started = {"test.finishes": asyncio.Event(), "test.stuck": asyncio.Event()}
    gate = asyncio.Event()

    async def finishes(ctx: JobContext) -> None:
        started[ctx.name].set()
        await gate.wait()

    async def stuck(ctx: JobContext) -> None:
        started[ctx.name].set()
        await asyncio.Event().wait()

    registry.register("test.finishes", finishes)
    registry.register("test.stuck", stuck)
    finishing_id = await add_job(db, "test.finishes")
    stuck_id = await add_job(db, "test.stuck")
    async with transaction(db.sessions) as session:  # it had one attempt before
        await session.execute(update(Job).where(Job.id == stuck_id).values(attempts=1))

    worker = make_worker(db, registry, grace_seconds=0.5, poll_interval=0.01)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.gather(*(e.wait() for e in started.values()))
    assert (await load(db, stuck_id)).attempts == 2
    stop.set()
    gate.set()  # the first finishes within the grace period; the second never does
    await running

    assert (await load(db, finishing_id)).status == SUCCEEDED
    stuck_job = await load(db, stuck_id)
    assert (stuck_job.status, stuck_job.locked_by, stuck_job.lease_until) == (QUEUED, None, None)
    assert stuck_job.attempts == 1  # the interrupted attempt is not counted


async def test_leases_are_extended_only_for_jobs_the_worker_is_running(
    db: Backend, registry: JobRegistry, frozen: FrozenClock
) -> None:
    started, gate = asyncio.Event(), asyncio.Event()

    async def long_job(ctx: JobContext) -> None:
        started.set()
        await gate.wait()

    registry.register("test.long", long_job)
    worker = make_worker(db, registry, lease_seconds=60)
    long_id = await add_job(db, "test.long")
    running = asyncio.create_task(worker.run_due())
    await started.wait()
    # A job claimed under this worker's name that it is not running (its claim's commit
    # seemed to fail, say) must not be kept alive by this worker's lease extensions.
    orphan_id = await add_job(db, "test.orphaned")
    async with transaction(db.sessions) as session:
        await store.claim(session, worker.id, 10, timedelta(seconds=60))

    for _ in range(3):  # three minutes: the running job's lease is kept fresh
        frozen.advance(timedelta(seconds=59))
        await worker.maintain()
    assert (await load(db, long_id)).status == RUNNING
    orphan = await load(db, orphan_id)
    assert (orphan.status, orphan.last_error) == (
        QUEUED,
        "lease expired: the worker running it stopped",
    )
    gate.set()
    await running
    assert (await load(db, long_id)).status == SUCCEEDED


async def test_a_claim_takes_at_most_its_limit(db: Backend, registry: JobRegistry) -> None:
    """On PostgreSQL the locking subquery once ran again per row and took every due job."""
    for _ in range(30):
        await add_job(db, "test.many")
    async with transaction(db.sessions) as session:
        first = await store.claim(session, "worker-a", 8, timedelta(minutes=1))
    async with transaction(db.sessions) as session:
        second = await store.claim(session, "worker-b", 8, timedelta(minutes=1))
    assert len(first) == len(second) == 8
    assert not {j.id for j in first} & {j.id for j in second}


async def test_a_handler_that_committed_a_job_can_have_it_claimed_at_once(
    db: Backend, registry: JobRegistry
) -> None:
    """The chain monitor hands transfers over by a job it commits mid-handler: ``ctx.wake()``
    has the worker claim that job now, while the handler goes on, not at its next poll."""
    follow_up_ran, gate = asyncio.Event(), asyncio.Event()

    async def hands_over(ctx: JobContext) -> None:
        await add_job(db, "test.follow_up")  # committed on its own, as the monitor's scan
        ctx.wake()
        await gate.wait()  # still busy (the monitor records node health here)

    async def follow_up(ctx: JobContext) -> None:
        follow_up_ran.set()

    registry.register("test.hands_over", hands_over)
    registry.register("test.follow_up", follow_up)
    await add_job(db, "test.hands_over")
    worker = make_worker(db, registry, poll_interval=30)  # no poll during the test
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(follow_up_ran.wait(), 10)
    finally:
        gate.set()
        stop.set()
        await running
