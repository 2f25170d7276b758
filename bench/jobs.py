"""Jobs per second, end to end, with 1 and 2 real worker processes on PostgreSQL.

Run: ``.venv/bin/python bench/jobs.py [--jobs N]`` (``make bench`` does). It creates and drops
its own database on the server at ``KASSA_BENCH_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/postgres). For each job kind (a no-op, and one small
INSERT in the job's transaction) and each worker count it starts the workers
(``python -m kassa worker``), enqueues N jobs with ``enqueue()`` in batches, and times from the
first enqueue to the last completion. Beside it, the ceiling: raw single-row INSERTs with
asyncpg, one per autocommit statement, at the concurrency a worker uses.

Imported as a plugin (``KASSA_PLUGINS=bench.jobs``) it registers the benchmark's jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from kassa.jobs import JobContext, register_job

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "KASSA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CONCURRENCY = 32  # the worker's default (KASSA_WORKER_CONCURRENCY)
BATCH = 1000


async def _noop(ctx: JobContext) -> None:
    return None


async def _write(ctx: JobContext) -> None:
    await ctx.session.execute(
        text("INSERT INTO bench_writes (job_id) VALUES (:id)"), {"id": ctx.id}
    )


register_job("bench.noop", _noop, max_attempts=3)
register_job("bench.write", _write, max_attempts=3)


def _db_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def _insert_ceiling(url: str, rows: int) -> float:
    """Single-row autocommit INSERTs, ``CONCURRENCY`` connections at once; rows per second."""
    import asyncpg

    pool = await asyncpg.create_pool(url, min_size=CONCURRENCY, max_size=CONCURRENCY)
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, payload text NOT NULL)"
    )
    remaining = rows

    async def inserter() -> None:
        nonlocal remaining
        async with pool.acquire() as conn:
            while remaining > 0:
                remaining -= 1
                await conn.execute("INSERT INTO bench_raw (payload) VALUES ($1)", "x" * 40)

    start = time.perf_counter()
    await asyncio.gather(*(inserter() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - start
    await pool.close()
    return rows / elapsed


def _start_workers(url: str, count: int, var_dir: str) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "KASSA_DATABASE_URL": url,
        "KASSA_PLUGINS": "bench.jobs",
        "KASSA_SECRET_KEY": "bench-" + "x" * 40,
        "KASSA_VAR_DIR": var_dir,
        "KASSA_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    return [
        subprocess.Popen([sys.executable, "-m", "kassa", "worker"], env=env, cwd=ROOT)
        for _ in range(count)
    ]


def _stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.kill()


async def _run_case(url: str, kind: str, workers: int, n: int, var_dir: str) -> float:
    import asyncpg

    from kassa.core.db import create_engine, session_factory, transaction
    from kassa.jobs import enqueue

    conn = await asyncpg.connect(url)
    await conn.execute("TRUNCATE jobs, workers, bench_writes")
    procs = _start_workers(url.replace("postgresql://", "postgresql+asyncpg://"), workers, var_dir)
    try:
        while await conn.fetchval("SELECT count(*) FROM workers") < workers:  # started?
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a worker process exited early; see its output above")
            await asyncio.sleep(0.1)
        engine = create_engine(url.replace("postgresql://", "postgresql+asyncpg://"))
        sessions = session_factory(engine)
        start = time.time()
        for offset in range(0, n, BATCH):
            async with transaction(sessions) as session:
                for _ in range(min(BATCH, n - offset)):
                    enqueue(session, f"bench.{kind}")
        enqueued = time.time() - start
        await engine.dispose()
        print(f"  enqueued {n} in {enqueued:.2f}s ({n / enqueued:,.0f}/s)", flush=True)
        done = 0
        while done < n:  # poll lightly: the end time comes from the jobs' finished_at
            await asyncio.sleep(0.5)
            done = await conn.fetchval(
                "SELECT count(*) FROM jobs WHERE status = 'succeeded' AND name = $1",
                f"bench.{kind}",
            )
            print(f"  ... {done}/{n} done after {time.time() - start:.1f}s", flush=True)
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a worker process died; see its output above")
        last = await conn.fetchval(
            "SELECT extract(epoch FROM max(finished_at)) FROM jobs WHERE name = $1", f"bench.{kind}"
        )
        elapsed = float(last) - start
        if kind == "write":
            written = await conn.fetchval("SELECT count(*) FROM bench_writes")
            if written != n:
                missing = await conn.fetch(
                    "SELECT id, attempts, last_error, locked_by, finished_at FROM jobs "
                    "WHERE id NOT IN (SELECT job_id FROM bench_writes) LIMIT 20"
                )
                for row in missing:
                    print("  MISSING WRITE", dict(row), flush=True)
                raise SystemExit(f"{written} writes for {n} jobs")
    finally:
        _stop_workers(procs)
        await conn.close()
    return n / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per case")
    parser.add_argument("--kinds", default="noop,write")
    parser.add_argument("--workers", default="1,2")
    opts = parser.parse_args()

    import asyncpg

    from kassa.core import migrate

    name = f"kassa_bench_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _db_url(name)
    results: list[tuple[str, int, float]] = []
    try:
        print(f"database {name}; migrating", flush=True)
        await asyncio.to_thread(
            migrate.upgrade, url.replace("postgresql://", "postgresql+asyncpg://")
        )
        conn = await asyncpg.connect(url)
        await conn.execute("CREATE TABLE bench_writes (job_id text PRIMARY KEY)")
        await conn.close()
        print(f"raw INSERT ceiling: {CONCURRENCY} connections, 20,000 rows", flush=True)
        ceiling = await _insert_ceiling(url, 20_000)
        print(f"  {ceiling:,.0f} rows/s", flush=True)
        with tempfile.TemporaryDirectory() as var_dir:
            for kind in opts.kinds.split(","):
                for workers in (int(w) for w in opts.workers.split(",")):
                    print(f"{kind} jobs, {workers} worker(s), {opts.jobs} jobs", flush=True)
                    rate = await _run_case(url, kind, workers, opts.jobs, var_dir)
                    print(f"  {rate:,.0f} jobs/s end to end", flush=True)
                    results.append((kind, workers, rate))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    print()
    print(f"{'job':<8}{'workers':>8}{'jobs/s':>10}{'raw INSERT/s':>14}{'ratio':>8}")
    for kind, workers, rate in results:
        print(f"{kind:<8}{workers:>8}{rate:>10,.0f}{ceiling:>14,.0f}{rate / ceiling:>8.2f}")
    print(f"target: >= 1,000 jobs/s end to end; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    asyncio.run(main())
