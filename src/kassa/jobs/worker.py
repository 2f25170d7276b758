"""The worker: claims due jobs, runs them concurrently under a lease, retries, dead-letters.

A job is marked done in the handler's own transaction, so database-only handlers take effect
exactly once. A worker that dies (even SIGKILL) loses nothing: its leases run out and another
worker requeues and runs its jobs. On SIGTERM/SIGINT it stops claiming, lets running jobs
finish for ``grace_seconds`` (still extending their leases) and hands back the rest.

Throughput: claims are made in batches (once ``refill`` slots are free, not after every job),
and jobs whose handlers never touched the database are finished together in the next claim's
transaction; a handler that did write is finished in its own transaction, atomically with
its writes. Jobs whose name has a batch handler run several at a time in one task and one
transaction on their first attempt (docs/decisions/0004-batch-jobs.md); a batch that fails
falls back to running each job alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import traceback
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock, context
from kassa.core.db import transaction
from kassa.core.ids import new_ulid
from kassa.core.metrics import jobs_run
from kassa.jobs import scheduler, store
from kassa.jobs.models import WorkerHeartbeat
from kassa.jobs.registry import (
    JOBS,
    BatchContext,
    BatchJob,
    Handler,
    JobContext,
    JobRegistry,
    JobSpec,
    Retry,
)
from kassa.jobs.scheduler import SCHEDULES, ScheduleSpec

log = logging.getLogger("kassa.worker")


class Worker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        registry: JobRegistry = JOBS,
        schedules: dict[str, ScheduleSpec] | None = None,
        concurrency: int = 32,
        poll_interval: float = 0.2,
        lease_seconds: float = 60,
        grace_seconds: float = 30.0,
        tick_interval: float = 1.0,
        unknown_job_delay: timedelta = timedelta(minutes=1),
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.schedules = SCHEDULES if schedules is None else schedules
        self.concurrency = concurrency
        self.refill = max(1, concurrency // 4)
        self.poll_interval = poll_interval
        self.lease = timedelta(seconds=lease_seconds)
        self.grace_seconds = grace_seconds
        self.tick_interval = tick_interval
        self.unknown_job_delay = unknown_job_delay
        self.id = f"{socket.gethostname()}:{os.getpid()}:{new_ulid()[-6:]}"
        self.started_at = clock.now()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._done: list[str] = []
        self._wake = asyncio.Event()
        self._stop: asyncio.Event | None = None
        self._started = 0  # jobs claimed since start

    # -- main loop ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then finish or release what is running."""
        log.info("worker started", extra={"worker_id": self.id, "concurrency": self.concurrency})
        while not await self._start():  # the database is not reachable yet
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)
            if stop.is_set():
                return
        upkeep = asyncio.create_task(self._upkeep(stop))
        relay = asyncio.create_task(self._relay(stop))
        try:
            self._stop = stop
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self._step()
                except Exception:  # e.g. the database is briefly down: keep going
                    log.exception("claiming jobs failed; will try again")
                    await asyncio.sleep(min(5.0, self.poll_interval * 10))
                await self._wait()
        finally:
            relay.cancel()
            await self._shutdown()
            upkeep.cancel()  # only now: leases of finishing jobs are extended until here
            with contextlib.suppress(asyncio.CancelledError):
                await upkeep
        log.info("worker stopped", extra={"worker_id": self.id})

    async def _start(self) -> bool:
        try:
            async with transaction(self.sessions) as session:
                await scheduler.sync_schedules(session, self.schedules)
            await self.maintain()
        except Exception:
            log.exception("worker start-up failed; will try again")
            return False
        return True

    async def run_due(self) -> int:
        """Run every job that is due now to its end, then return how many ran (for tests and
        one-off runs; ``run`` is the long-running loop)."""
        before = self._started
        while True:
            started = await self._step()
            if not started and not self._running:
                break
            if self._running:
                await asyncio.wait(list(self._running.values()))
        await self._flush_done()
        return self._started - before  # batches claim too

    async def _step(self) -> int:
        """Finish the batch of done jobs and claim jobs for the free slots, in one transaction."""
        free = self.concurrency - len(self._running)
        done, self._done = self._done, []
        if free <= 0 and not done:
            return 0
        try:
            async with transaction(self.sessions) as session:
                await store.mark_succeeded(session, done, self.id)
                claimed = await store.claim(session, self.id, free, self.lease) if free else []
        except BaseException:
            self._done = done + self._done  # try again next time
            raise
        self._spawn(claimed)
        return len(claimed)

    def _spawn(self, claimed: list[store.ClaimedJob]) -> None:
        self._started += len(claimed)
        singles, batches = self._plan(claimed)
        for job in singles:
            self._running[job.id] = asyncio.create_task(self._run_one(job))
        for spec, jobs in batches:
            task = asyncio.create_task(self._run_batch(spec, jobs))
            for job in jobs:  # each job keeps its slot and its lease until the batch ends
                self._running[job.id] = task

    def _plan(
        self, claimed: list[store.ClaimedJob]
    ) -> tuple[list[store.ClaimedJob], list[tuple[JobSpec, list[store.ClaimedJob]]]]:
        """Jobs to run alone, and batches: first attempts of jobs that have a batch handler.
        A retried job always runs alone, so one bad job cannot fail a batch twice."""
        singles: list[store.ClaimedJob] = []
        groups: dict[str, list[store.ClaimedJob]] = {}
        for job in claimed:
            spec = self.registry.get(job.name)
            if spec is not None and spec.batch is not None and job.attempts == 1:
                groups.setdefault(job.name, []).append(job)
            else:
                singles.append(job)
        batches: list[tuple[JobSpec, list[store.ClaimedJob]]] = []
        for name, jobs in groups.items():
            spec = self.registry.specs[name]
            size = max(1, spec.batch_size)
            for i in range(0, len(jobs), size):
                chunk = jobs[i : i + size]
                if len(chunk) == 1:
                    singles.append(chunk[0])
                else:
                    batches.append((spec, chunk))
        return singles, batches

    async def _wait(self) -> None:
        """Until enough slots are free (a job finishing wakes us), a schedule fired, or stop;
        at most ``poll_interval`` so new jobs are found."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.poll_interval):
                await self._wake.wait()

    async def _relay(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    async def _flush_done(self) -> None:
        if self._done:
            done, self._done = self._done, []
            async with transaction(self.sessions) as session:
                await store.mark_succeeded(session, done, self.id)

    # -- one job ----------------------------------------------------------------------------
    async def _run_one(self, job: store.ClaimedJob, handler: Handler | None = None) -> None:
        context.set_context(context.RequestContext(request_id=job.id, actor=f"job:{job.name}"))
        try:
            await self._execute(job, handler)
        except Exception:  # the worker must survive anything a job does
            log.exception("job bookkeeping failed", extra={"job_id": job.id})
        finally:
            self._running.pop(job.id, None)
            self._slots_freed()

    async def _run_batch(self, spec: JobSpec, jobs: list[store.ClaimedJob]) -> None:
        context.set_context(context.RequestContext(request_id=jobs[0].id, actor=f"job:{spec.name}"))
        this = asyncio.current_task()
        try:
            if not await self._execute_batch(spec, jobs):
                await asyncio.gather(*(self._execute_guarded(job) for job in jobs))
        except Exception:  # the worker must survive anything a job does
            log.exception("batch bookkeeping failed", extra={"job_id": jobs[0].id})
        finally:
            for job in jobs:
                if self._running.get(job.id) is this:  # not a job left to run on its own
                    del self._running[job.id]
            self._slots_freed()

    def _slots_freed(self) -> None:
        """Wake the claim loop once enough slots are free to be worth a claim (or none run)."""
        if self.concurrency - len(self._running) >= self.refill or not self._running:
            self._wake.set()

    async def _execute_guarded(self, job: store.ClaimedJob) -> None:
        try:
            await self._execute(job)
        except Exception:
            log.exception("job bookkeeping failed", extra={"job_id": job.id})

    async def _execute_batch(self, spec: JobSpec, jobs: list[store.ClaimedJob]) -> bool:
        """Run ``jobs`` through the batch handler and finish them in its transaction; False
        (all written undone) when they must run one by one instead."""
        assert spec.batch is not None
        async with self.sessions() as session:
            ctx = BatchContext(
                spec.name,
                [BatchJob(j.id, j.args, j.attempts, j.max_attempts) for j in jobs],
                session,
                self.sessions,
            )
            try:
                async with asyncio.timeout(spec.timeout_seconds):
                    alone = dict(await spec.batch(ctx) or {})
                ids = [job.id for job in jobs if job.id not in alone]
                claimed = await self._finish(session, ids, refill=True)
                if claimed is None:
                    # Run alone, each job we still hold is finished on its own.
                    return False
            except Exception as exc:
                await session.rollback()
                log.warning(
                    "batch failed; running its jobs one by one",
                    extra={"job": spec.name, "count": len(jobs), "error": repr(exc)[:500]},
                )
                return False
        jobs_run.labels(spec.name, "succeeded").inc(len(ids))
        for job in jobs:
            if job.id in alone:  # keeps its slot and lease, now as a task of its own
                self._running[job.id] = asyncio.create_task(self._run_one(job, alone[job.id]))
        self._spawn(claimed)  # the batch's own jobs leave their slots when it returns
        return True

    async def _execute(self, job: store.ClaimedJob, handler: Handler | None = None) -> None:
        """Run ``job`` with its registered handler (or ``handler``, a batch's continuation)."""
        spec = self.registry.get(job.name)
        if job.attempts > job.max_attempts:
            await self._fail(job, "gave up: the job's worker stopped too many times", None)
            return
        if spec is None:  # e.g. a newer release enqueued it: keep it for a worker that knows it
            async with transaction(self.sessions) as session:
                reason = f"no handler registered for job {job.name!r} on this worker"
                await store.postpone(session, job, self.id, reason, self.unknown_job_delay)
            jobs_run.labels(job.name, "unknown").inc()
            log.warning("no handler for job", extra={"job_id": job.id, "job": job.name})
            return
        async with self.sessions() as session:
            ctx = JobContext(
                job.id,
                job.name,
                job.args,
                job.attempts,
                job.max_attempts,
                session,
                self.sessions,
                self._wake.set,
            )
            try:
                async with asyncio.timeout(spec.timeout_seconds):
                    await (handler or spec.handler)(ctx)
                if await self._finish(session, [job.id]) is None:
                    return
                jobs_run.labels(job.name, "succeeded").inc()
                return
            except Retry as retry:
                await session.rollback()
                error, delay = str(retry), retry.after
            except TimeoutError:
                await session.rollback()
                error = f"timed out after {spec.timeout_seconds:g}s"
                delay = spec.backoff(job.attempts)
            except Exception as exc:
                await session.rollback()
                error = "".join(traceback.format_exception_only(exc)).strip()
                delay = spec.backoff(job.attempts)
                log.warning(
                    "job failed",
                    extra={
                        "job_id": job.id,
                        "job": job.name,
                        "attempt": job.attempts,
                        "error": error,
                    },
                )
        await self._fail(job, error, delay if job.attempts < job.max_attempts else None)

    async def _finish(
        self, session: AsyncSession, ids: list[str], *, refill: bool = False
    ) -> list[store.ClaimedJob] | None:
        """Mark the jobs ``ids`` succeeded in the transaction of what their handler wrote, so
        both commit as one; jobs that wrote nothing are finished with the next claim instead.
        With ``refill``, claims jobs for the slots they free in the same transaction. None
        (everything undone) when a lease ran out and another worker has one of the jobs."""
        # Objects only added (enqueue, emit) have not begun a transaction yet: they must be
        # written with the jobs' completion, not dropped with the session.
        if session.new or session.dirty or session.deleted:
            await session.flush()
        if not session.in_transaction():
            self._done.extend(ids)
            return []
        if await store.mark_succeeded(session, ids, self.id) != len(ids):
            await session.rollback()
            log.warning("lost a lease; rolled back", extra={"job_id": ids[0]})
            return None
        claimed: list[store.ClaimedJob] = []
        if refill and len(ids) >= self.refill and not (self._stop and self._stop.is_set()):
            # Refill the slots these jobs free in their own transaction: saves the claim's
            # BEGIN and COMMIT round trips, a fifth of a batch's.
            claimed = await store.claim(session, self.id, len(ids), self.lease)
        await session.commit()
        return claimed

    async def _fail(self, job: store.ClaimedJob, error: str, retry_in: timedelta | None) -> None:
        async with transaction(self.sessions) as session:
            await store.mark_failed(session, job, self.id, error, retry_in)
        jobs_run.labels(job.name, "retry" if retry_in is not None else "dead").inc()
        if retry_in is None:
            log.error("job moved to dead letters", extra={"job_id": job.id, "job": job.name})

    # -- upkeep: leases, expired jobs, heartbeat, schedules ----------------------------------
    async def maintain(self) -> int:
        """Extend this worker's leases, requeue jobs of dead workers, beat; returns requeued."""
        async with transaction(self.sessions) as session:
            await store.extend_leases(session, [*self._running, *self._done], self.id, self.lease)
            requeued = await store.requeue_expired(session)
            now = clock.now()
            await store.heartbeat(
                session,
                WorkerHeartbeat(
                    id=self.id,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=self.started_at,
                    heartbeat_at=now,
                ),
            )
        if requeued:
            log.warning("requeued jobs of a stopped worker", extra={"count": requeued})
            self._wake.set()
        return requeued

    async def tick(self) -> list[str]:
        """Enqueue the schedules that are due (exactly once across all workers)."""
        async with transaction(self.sessions) as session:
            fired = await scheduler.tick(session, self.schedules)
        if fired:
            self._wake.set()
            # debug: a chain scan fires every block (every second on a local chain), and the
            # jobs it enqueues say what they do
            log.debug("schedules fired", extra={"schedules": fired})
        return fired

    async def _upkeep(self, stop: asyncio.Event) -> None:
        """Runs until cancelled (after shutdown), so leases stay fresh while jobs finish."""
        lease_every = max(0.5, self.lease.total_seconds() / 4)
        last_lease = time.monotonic()
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                if not stop.is_set():
                    await self.tick()
                if time.monotonic() - last_lease >= lease_every:
                    last_lease = time.monotonic()
                    await self.maintain()
            except Exception:
                log.exception("worker upkeep failed; will try again")

    async def _shutdown(self) -> None:
        if self._running:
            log.info("waiting for running jobs", extra={"count": len(self._running)})
            _, pending = await asyncio.wait(
                list(self._running.values()), timeout=self.grace_seconds
            )
            if pending:
                unfinished = list(self._running)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                try:
                    async with transaction(self.sessions) as session:
                        released = await store.release(session, unfinished, self.id)
                    log.warning("released unfinished jobs", extra={"count": released})
                except Exception:  # their leases will run out and another worker takes them
                    log.exception("could not release unfinished jobs")
        try:
            await self._flush_done()
        except Exception:  # they run again after their leases expire (at least once)
            log.exception("could not mark finished jobs")
