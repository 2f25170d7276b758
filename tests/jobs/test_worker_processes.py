"""Real `python -m kassa worker` processes: SIGKILL mid-job, two workers, scheduler ticks.

These wait on other processes, so they poll the database with a deadline (there is no clock
or event to wait on across processes).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from kassa.core.db import transaction
from kassa.jobs.models import SUCCEEDED, Job, WorkerHeartbeat
from kassa.jobs.outbox import enqueue
from tests.conftest import Backend
from tests.jobs.conftest import load
from tests.plugins.jobs_probe import PROBE_TABLES

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
JOBS_PLUGIN = "tests.plugins.jobs_probe"
SCHEDULE_PLUGIN = "tests.plugins.schedule_probe"

StartWorker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
async def probe(db: Backend) -> Backend:
    async with transaction(db.sessions) as session:
        for ddl in PROBE_TABLES:
            await session.execute(text(ddl))
        await session.execute(text("DELETE FROM probe_runs"))
        await session.execute(text("DELETE FROM probe_done"))
    return db


@pytest.fixture
async def start_worker(db: Backend, tmp_path: Path) -> AsyncIterator[StartWorker]:
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(plugins: str = JOBS_PLUGIN) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "KASSA_DATABASE_URL": db.url,
            "KASSA_PLUGINS": plugins,
            "KASSA_JOB_LEASE_SECONDS": "5",
            "KASSA_WORKER_POLL_INTERVAL": "0.05",
            "KASSA_WORKER_CONCURRENCY": "8",  # a dozen connections each, not three dozen
            "KASSA_VAR_DIR": str(tmp_path),
            "KASSA_SECRET_KEY": "test-secret-" + "x" * 40,
            "KASSA_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        log = tmp_path / f"worker-{len(procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "kassa", "worker"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        procs.append((proc, log))
        return proc

    yield start
    for proc, _ in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, log in procs:
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        # -SIGTERM: stopped while still starting, before its handler was installed
        assert code in (0, -signal.SIGKILL, -signal.SIGTERM), log.read_text()


async def _until(
    check: Callable[[], Awaitable[bool]],
    what: str,
    procs: list[subprocess.Popen[bytes]],
    seconds: float,
) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        for proc in procs:
            assert proc.poll() is None, (
                f"a worker exited ({proc.returncode}) while waiting for {what}"
            )
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _scalar(db: Backend, sql: str, **params: object) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(text(sql), params) or 0)


async def _workers_up(db: Backend, count: int) -> bool:
    async with db.sessions() as session:
        seen = await session.scalar(select(func.count()).select_from(WorkerHeartbeat))
        return (seen or 0) >= count


async def test_a_sigkilled_worker_loses_no_job(probe: Backend, start_worker: StartWorker) -> None:
    db = probe
    async with transaction(db.sessions) as session:
        job_id = enqueue(session, "probe.hang_first").id
    first = start_worker()

    async def started() -> bool:
        return await _scalar(db, "SELECT count(*) FROM probe_runs WHERE job_id = :j", j=job_id) > 0

    await _until(started, "the first worker to start the job", [first], 120)
    first.send_signal(signal.SIGKILL)  # mid-job, no chance to clean up
    first.wait()
    second = start_worker()

    async def finished() -> bool:
        return (await load(db, job_id)).status == SUCCEEDED

    await _until(finished, "another worker to finish the job", [second], 90)
    async with db.sessions() as session:
        runs = (await session.execute(text("SELECT attempt, pid FROM probe_runs"))).all()
        done = (await session.execute(text("SELECT job_id, pid FROM probe_done"))).all()
    assert [(r.attempt, r.pid) for r in runs] == [(1, first.pid), (2, second.pid)]
    assert [(d.job_id, d.pid) for d in done] == [(job_id, second.pid)]
    assert (await load(db, job_id)).attempts == 2


def _postgres_only(db: Backend) -> None:
    if db.name != "postgresql":
        pytest.skip("several worker processes need PostgreSQL (SQLite has one writer)")


async def test_two_workers_never_run_the_same_job(
    probe: Backend, start_worker: StartWorker
) -> None:
    db = probe
    _postgres_only(db)
    workers = [start_worker(), start_worker()]
    await _until(lambda: _workers_up(db, 2), "both workers to start", workers, 120)
    n = 500
    async with transaction(db.sessions) as session:
        ids = {enqueue(session, "probe.record", {"sleep": 0.005}).id for _ in range(n)}

    async def all_done() -> bool:
        return await _scalar(db, "SELECT count(*) FROM probe_done") >= n

    await _until(all_done, f"{n} jobs to finish", workers, 90)
    async with db.sessions() as session:
        runs = (await session.execute(text("SELECT job_id, pid FROM probe_runs"))).all()
        statuses = Counter(
            (await session.scalars(select(Job.status).where(Job.name == "probe.record"))).all()
        )
    per_job = Counter(r.job_id for r in runs)
    assert set(per_job) == ids
    assert max(per_job.values()) == 1  # every job ran exactly once
    assert statuses == {SUCCEEDED: n}
    assert {r.pid for r in runs} == {w.pid for w in workers}  # and both took part


async def test_scheduler_ticks_exactly_once_with_two_workers(
    probe: Backend, start_worker: StartWorker
) -> None:
    db = probe
    _postgres_only(db)
    plugins = f"{JOBS_PLUGIN},{SCHEDULE_PLUGIN}"
    workers = [start_worker(plugins), start_worker(plugins)]
    await _until(lambda: _workers_up(db, 2), "both workers to start", workers, 120)

    async def ticked() -> bool:
        return await _scalar(db, "SELECT count(*) FROM probe_done") >= 4

    await _until(ticked, "four ticks to run", workers, 60)
    async with db.sessions() as session:
        ticks = (await session.scalars(select(Job).where(Job.name == "probe.tick"))).all()
        runs = (await session.execute(text("SELECT job_id FROM probe_runs"))).all()
    scheduled_for = Counter(job.args["scheduled_for"] for job in ticks)
    assert len(scheduled_for) >= 4
    assert max(scheduled_for.values()) == 1  # no tick was enqueued twice
    assert max(Counter(r.job_id for r in runs).values()) == 1  # nor run twice
