"""The worker: claims due jobs, runs them concurrently under a lease, retries, dead-letters.

A job is marked done in the handler's own transaction, so database-only handlers take effect
exactly once. A worker that dies (even SIGKILL) loses nothing: its leases run out and another
worker requeues and runs its jobs. On SIGTERM/SIGINT it stops claiming, lets running jobs
finish for ``grace_seconds`` and hands back the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock, context
from kassa.core.db import transaction
from kassa.core.ids import new_ulid
from kassa.core.metrics import jobs_run
from kassa.jobs import scheduler, store
from kassa.jobs.models import WorkerHeartbeat
from kassa.jobs.registry import JOBS, JobContext, JobRegistry, Retry
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
        lease_seconds: int = 60,
        grace_seconds: float = 30.0,
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.schedules = SCHEDULES if schedules is None else schedules
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.lease = timedelta(seconds=lease_seconds)
        self.grace_seconds = grace_seconds
        self.id = f"{socket.gethostname()}:{os.getpid()}:{new_ulid()[-6:]}"
        self.started_at = clock.now()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._done: list[str] = []
        self._wake = asyncio.Event()

    # -- main loop ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker started", extra={"worker_id": self.id, "concurrency": self.concurrency})
        async with transaction(self.sessions) as session:
            await scheduler.sync_schedules(session, self.schedules)
        await self.maintain()
        upkeep = asyncio.create_task(self._upkeep(stop))
        try:
            while not stop.is_set():
                claimed = await self._claim_and_start()
                await self._flush_done()
                if claimed == 0 or len(self._running) >= self.concurrency:
                    await self._wait(stop)
        finally:
            upkeep.cancel()
            await self._shutdown()
        log.info("worker stopped", extra={"worker_id": self.id})

    async def _claim_and_start(self) -> int:
        free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        async with transaction(self.sessions) as session:
            claimed = await store.claim(session, self.id, free, self.lease)
        for job in claimed:
            self._running[job.id] = asyncio.create_task(self._run_one(job))
        return len(claimed)

    async def _wait(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        await asyncio.wait(waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    async def _flush_done(self) -> None:
        """Finish, in one statement, the jobs whose handlers never touched the database."""
        if not self._done:
            return
        done, self._done = self._done, []
        async with transaction(self.sessions) as session:
            await store.mark_succeeded(session, done, self.id)

    # -- one job ----------------------------------------------------------------------------
    async def _run_one(self, job: store.ClaimedJob) -> None:
        context.set_context(context.RequestContext(request_id=job.id, actor=f"job:{job.name}"))
        try:
            await self._execute(job)
        except Exception:  # the worker must survive anything a job does
            log.exception("job bookkeeping failed", extra={"job_id": job.id})
        finally:
            self._running.pop(job.id, None)
            self._wake.set()

    async def _execute(self, job: store.ClaimedJob) -> None:
        spec = self.registry.get(job.name)
        if job.attempts > job.max_attempts:
            await self._fail(job, "gave up: the job's worker stopped too many times", None)
            return
        if spec is None:
            await self._fail(
                job, f"no handler registered for job {job.name!r}", timedelta(minutes=5)
            )
            return
        async with self.sessions() as session:
            ctx = JobContext(
                job.id, job.name, job.args, job.attempts, job.max_attempts, session, self.sessions
            )
            try:
                async with asyncio.timeout(spec.timeout_seconds):
                    await spec.handler(ctx)
                if session.in_transaction():
                    if await store.mark_succeeded(session, [job.id], self.id) == 1:
                        await session.commit()
                    else:  # our lease ran out and another worker has it: undo our writes
                        await session.rollback()
                        log.warning("lost the lease; rolled back", extra={"job_id": job.id})
                        return
                else:
                    self._done.append(job.id)
                jobs_run.labels(job.name, "succeeded").inc()
                return
            except Retry as retry:
                await session.rollback()
                error, delay = str(retry), retry.after
            except TimeoutError:
                await session.rollback()
                error, delay = (
                    f"timed out after {spec.timeout_seconds:g}s",
                    spec.backoff(job.attempts),
                )
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

    async def _fail(self, job: store.ClaimedJob, error: str, retry_in: timedelta | None) -> None:
        async with transaction(self.sessions) as session:
            await store.mark_failed(session, job, self.id, error, retry_in)
        jobs_run.labels(job.name, "retry" if retry_in is not None else "dead").inc()
        if retry_in is None:
            log.error("job moved to dead letters", extra={"job_id": job.id, "job": job.name})

    # -- upkeep: leases, expired jobs, heartbeat, schedules ----------------------------------
    async def maintain(self) -> None:
        async with transaction(self.sessions) as session:
            await store.extend_leases(session, self.id, self.lease)
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

    async def _upkeep(self, stop: asyncio.Event) -> None:
        lease_every = max(1.0, self.lease.total_seconds() / 4)
        since_lease = 0.0
        while not stop.is_set():
            try:
                async with transaction(self.sessions) as session:
                    fired = await scheduler.tick(session, self.schedules)
                if fired:
                    self._wake.set()
                    log.info("schedules fired", extra={"schedules": fired})
                if since_lease >= lease_every:
                    since_lease = 0.0
                    await self.maintain()
            except Exception:
                log.exception("worker upkeep failed; will try again")
            await asyncio.sleep(1.0)
            since_lease += 1.0

    async def _shutdown(self) -> None:
        if self._running:
            log.info("waiting for running jobs", extra={"count": len(self._running)})
            _, pending = await asyncio.wait(
                list(self._running.values()), timeout=self.grace_seconds
            )
            if pending:
                ids = list(self._running)
                for task in pending:
                    task.cancel()
                with contextlib.suppress(Exception):
                    async with transaction(self.sessions) as session:
                        await store.release(session, ids, self.id)
        await self._flush_done()
