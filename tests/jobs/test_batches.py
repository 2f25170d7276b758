"""Batch handlers: first attempts of one job name run together and finish in one transaction;
anything unusual (a failure, a retry, a lost lease) falls back to running jobs one by one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import update

from kassa.core.clock import FrozenClock
from kassa.core.db import transaction
from kassa.jobs.models import QUEUED, RUNNING, SUCCEEDED, Job
from kassa.jobs.outbox import enqueue
from kassa.jobs.registry import BatchContext, Handler, JobContext, JobRegistry
from tests.conftest import Backend
from tests.jobs.conftest import add_job, count_jobs, load, make_worker


async def test_first_attempts_run_as_batches_and_commit_with_their_completion(
    db: Backend, registry: JobRegistry
) -> None:
    batches: list[list[str]] = []
    singles: list[str] = []

    async def single(ctx: JobContext) -> None:
        singles.append(ctx.id)

    async def batch(ctx: BatchContext) -> None:
        batches.append([job.id for job in ctx.jobs])
        assert all(job.attempt == 1 for job in ctx.jobs)
        for job in ctx.jobs:  # a write per job, in the batch's transaction
            enqueue(ctx.session, "test.follow_up", {"after": job.args["n"]})

    registry.register("test.many", single, batch=batch, batch_size=4)
    ids = [await add_job(db, "test.many", {"n": n}) for n in range(10)]
    worker = make_worker(db, registry, concurrency=32)

    await worker.run_due()
    assert singles == []
    assert sorted(len(b) for b in batches) == [2, 4, 4]
    assert sorted(i for b in batches for i in b) == sorted(ids)
    assert {(await load(db, i)).status for i in ids} == {SUCCEEDED}
    assert await count_jobs(db, "test.follow_up") == 10


async def test_a_failing_batch_runs_each_job_alone_and_only_the_bad_one_retries(
    db: Backend, registry: JobRegistry, frozen: FrozenClock
) -> None:
    alone: list[tuple[int, int]] = []

    async def single(ctx: JobContext) -> None:
        alone.append((ctx.args["n"], ctx.attempt))
        enqueue(ctx.session, "test.follow_up", {"after": ctx.args["n"]})
        if ctx.args["n"] == 2 and ctx.attempt == 1:
            raise RuntimeError("bad input")

    async def batch(ctx: BatchContext) -> None:
        for job in ctx.jobs:
            enqueue(ctx.session, "test.follow_up", {"after": job.args["n"]})  # undone below
        if any(job.args["n"] == 2 for job in ctx.jobs):
            raise RuntimeError("bad input")

    registry.register("test.poison", single, batch=batch, batch_size=8)
    ids = [await add_job(db, "test.poison", {"n": n}) for n in range(4)]
    worker = make_worker(db, registry)

    await worker.run_due()
    assert sorted(alone) == [(0, 1), (1, 1), (2, 1), (3, 1)]  # same attempt, one by one
    statuses = [(await load(db, i)).status for i in ids]
    assert statuses == [SUCCEEDED, SUCCEEDED, QUEUED, SUCCEEDED]
    assert await count_jobs(db, "test.follow_up") == 3  # the batch's writes were rolled back
    frozen.advance(timedelta(minutes=1))
    await worker.run_due()  # the retry runs alone, with the single handler
    assert alone[-1] == (2, 2)
    assert (await load(db, ids[2])).status == SUCCEEDED
    assert await count_jobs(db, "test.follow_up") == 4


async def test_retried_jobs_are_never_batched(
    db: Backend, registry: JobRegistry, frozen: FrozenClock
) -> None:
    seen: list[str] = []

    async def single(ctx: JobContext) -> None:
        seen.append(f"single:{ctx.attempt}")

    async def batch(ctx: BatchContext) -> None:
        seen.extend("batch" for _ in ctx.jobs)

    registry.register("test.again", single, batch=batch)
    ids = [await add_job(db, "test.again") for _ in range(3)]
    async with transaction(db.sessions) as session:  # as if a worker died running them
        await session.execute(update(Job).where(Job.id.in_(ids)).values(attempts=1))
    await make_worker(db, registry).run_due()
    assert seen == ["single:2"] * 3


async def test_a_batch_may_leave_jobs_to_finish_on_their_own(
    db: Backend, registry: JobRegistry, frozen: FrozenClock
) -> None:
    finished_alone: list[str] = []

    async def single(ctx: JobContext) -> None:
        raise AssertionError("not run: the batch handles or hands over every job")

    async def batch(ctx: BatchContext) -> Mapping[str, Handler]:
        first, *rest = ctx.jobs
        for job in rest:
            enqueue(ctx.session, "test.follow_up", {"after": job.id})

        async def finish(job_ctx: JobContext) -> None:
            finished_alone.append(job_ctx.id)
            enqueue(job_ctx.session, "test.follow_up", {"after": job_ctx.id})
            if job_ctx.attempt == 1:
                raise RuntimeError("the continuation fails like any job")

        return {first.id: finish}

    registry.register("test.split", single, batch=batch)
    ids = [await add_job(db, "test.split") for _ in range(3)]
    worker = make_worker(db, registry)
    await worker.run_due()

    handed = finished_alone[0]
    assert handed in ids and finished_alone == [handed]
    assert {(await load(db, i)).status for i in ids if i != handed} == {SUCCEEDED}
    job = await load(db, handed)
    assert (job.status, job.attempts) == (QUEUED, 1)  # it failed on its own, and retries
    assert await count_jobs(db, "test.follow_up") == 2


async def test_a_batch_that_lost_a_lease_undoes_its_writes_and_runs_alone(
    db: Backend, registry: JobRegistry
) -> None:
    runs: list[str] = []
    taken: list[str] = []

    async def single(ctx: JobContext) -> None:
        runs.append(ctx.id)
        enqueue(ctx.session, "test.follow_up", {"after": ctx.id})

    async def batch(ctx: BatchContext) -> None:
        # Meanwhile the lease of one job ran out and another worker took it over.
        taken.append(ctx.jobs[0].id)
        async with transaction(ctx.sessions) as other:
            await other.execute(
                update(Job).where(Job.id == taken[0]).values(locked_by="another-worker")
            )
        for job in ctx.jobs:
            enqueue(ctx.session, "test.follow_up", {"after": job.id})

    registry.register("test.lease", single, batch=batch)
    ids = [await add_job(db, "test.lease") for _ in range(3)]
    await make_worker(db, registry).run_due()

    job = await load(db, taken[0])
    assert (job.status, job.locked_by) == (RUNNING, "another-worker")  # theirs, untouched
    assert sorted(runs) == sorted(ids)  # alone, each; the taken one rolls back on its own
    assert {(await load(db, i)).status for i in ids if i != taken[0]} == {SUCCEEDED}
    assert await count_jobs(db, "test.follow_up") == 2


async def test_a_finished_batch_claims_the_next_jobs_for_its_slots(
    db: Backend, registry: JobRegistry, monkeypatch: object
) -> None:
    from kassa.jobs import store

    sizes: list[int] = []
    claims_in_batches: list[int] = []
    real_claim = store.claim

    async def batch(ctx: BatchContext) -> None:
        sizes.append(len(ctx.jobs))
        enqueue(ctx.session, "test.follow_up")  # a write: the batch has its own transaction

    async def counting_claim(session: object, *args: object, **kw: object) -> object:
        found = await real_claim(session, *args, **kw)  # type: ignore[arg-type]
        if any(job.name == "test.refill" for job in found):
            claims_in_batches.append(len(found))
        return found

    async def single(ctx: JobContext) -> None:
        pass

    registry.register("test.refill", single, batch=batch, batch_size=4)
    registry.register("test.follow_up", single)
    ids = [await add_job(db, "test.refill") for _ in range(24)]
    worker = make_worker(db, registry, concurrency=8)
    setattr(store, "claim", counting_claim)  # noqa: B010
    try:
        ran = await worker.run_due()
    finally:
        setattr(store, "claim", real_claim)  # noqa: B010
    assert ran == 24 + len(sizes)  # and a follow-up per batch
    assert sum(sizes) == 24 and max(sizes) <= 4
    assert {(await load(db, i)).status for i in ids} == {SUCCEEDED}
    assert len(claims_in_batches) >= 3  # the first claim, then batches refilling themselves
