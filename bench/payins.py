"""Payments per second through the HTTP API, beside the honest ceiling, measured in one run.

Run: ``.venv/bin/python bench/payins.py [--payments N]`` (PostgreSQL) or
``.venv/bin/python bench/payins.py --sqlite [--payments N]`` (the embedded default).

PostgreSQL: it creates a database on the server at ``KASSA_BENCH_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/postgres), migrates it with ``kassa migrate``, and drops it
at the end. Each case gets a warm-up of 500 payments, then N create-and-confirm payments
(``POST /v1/payments``, mock provider, a fresh ``Idempotency-Key`` each) from 64 concurrent
aiohttp clients, against:

- kassa: a real ``python -m kassa serve`` with ``KASSA_API_WORKERS=2``, rate limits off;
- the honest ceiling (``payins_ceiling.honest_app``): the durable statements a crash-safe,
  idempotent create-and-confirm needs, hand-written on asyncpg, on the same uvicorn settings,
  2 processes, a pool of 10 connections each, the same schema, writing the same rows; the
  run prints both sides' rows and row sizes per payment, so any difference shows;
- a bare ASGI endpoint on the same server stack that writes nothing;
- raw single-row PostgreSQL INSERTs with asyncpg, 64 connections, autocommit.

Goal (issue 11): kassa >= 0.5 of the honest ceiling.

``--sqlite``: ``kassa run`` as ``make run`` starts it (migrate, one API process and one worker
under the supervisor, SQLite in a fresh var folder, demo account and its test key), with rate
limits off (one key at 100/s would measure the limiter) and WARNING logs, 16 concurrent
clients creating payments with unique Idempotency-Keys; 200 to warm up, then N (2,000).
Goal: >= 200 payments/s, p99 <= 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib
from benchlib import Load

CONCURRENCY = 64
WORKERS = 2
POOL = 10
WARM_UP = 500
SQLITE_CLIENTS = 16
BODY = {"amount": {"value": "10.00", "currency": "USD"}, "payment_method": "pm_card_visa"}
# What one create-and-confirm writes, per table (both sides are checked against each other).
TABLES = ("payments", "events", "jobs", "audit_log", "payment_attempts", "idempotency_keys")


# -- what a run wrote -------------------------------------------------------------------------
async def _rows(db_name: str) -> dict[str, tuple[int, float]]:
    """Per table: rows, and their mean size in bytes as stored (pg_column_size of the row)."""
    import asyncpg

    conn = await asyncpg.connect(benchlib.db_url(db_name))
    try:
        found = {}
        for table in TABLES:
            row = await conn.fetchrow(
                f"SELECT count(*), coalesce(avg(pg_column_size(t.*)), 0) FROM {table} t"
            )
            found[table] = (int(row[0]), float(row[1]))
        return found
    finally:
        await conn.close()


async def _truncate(db_name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(benchlib.db_url(db_name))
    try:
        await conn.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        await conn.execute(f"VACUUM ANALYZE {', '.join(TABLES)}")
    finally:
        await conn.close()


async def _counters(db_name: str) -> dict[str, int]:
    """PostgreSQL's transaction and row counters for the database (read after the server's
    backends exited, so everything they did is counted)."""
    import asyncpg

    conn = await asyncpg.connect(benchlib.db_url(db_name))
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        row = await conn.fetchrow(
            "SELECT xact_commit + xact_rollback, tup_inserted, tup_updated "
            "FROM pg_stat_database WHERE datname = $1",
            db_name,
        )
        return {"transactions": row[0], "inserted": row[1], "updated": row[2]}
    finally:
        await conn.close()


# -- one measured server --------------------------------------------------------------------
class Case:
    """A server under load: its figures and the CPU its processes and PostgreSQL spent."""

    def __init__(self, label: str, load: Load, server_cpu: float, pg_cpu: float) -> None:
        self.label, self.load, self.server_cpu, self.pg_cpu = label, load, server_cpu, pg_cpu
        self.payments = 0  # requests sent, warm-up included (what the counters cover)
        self.counters: dict[str, int] = {}
        self.rows: dict[str, tuple[int, float]] = {}

    def line(self) -> str:
        lat = self.load.latencies_ms
        return (
            f"{self.label:40}{self.load.rate:12.0f}{benchlib.pct(lat, 0.5):10.1f}"
            f"{benchlib.pct(lat, 0.99):10.1f}{self.load.failures:8}"
        )


async def _measure(
    label: str,
    command: list[str],
    env: dict[str, str],
    port: int,
    count: int,
    headers: dict[str, str],
    db_name: str,
) -> Case:
    proc = subprocess.Popen(command, env=env, cwd=benchlib.ROOT)  # noqa: ASYNC220
    try:
        base = f"http://127.0.0.1:{port}"
        await benchlib.wait_up(f"{base}/health", proc)
        run = secrets.token_hex(4)
        url = f"{base}/v1/payments"

        def warm(i: int) -> dict[str, str]:
            return {**headers, "Idempotency-Key": f"warm-{run}-{i}"}

        def measured(i: int) -> dict[str, str]:
            return {**headers, "Idempotency-Key": f"bench-{run}-{i}"}

        warmed = await benchlib.post_load(
            url, min(WARM_UP, count), warm, concurrency=CONCURRENCY, body=BODY
        )
        server, database = benchlib.tree_cpu(proc.pid), benchlib.postgres_cpu(db_name)
        load = await benchlib.post_load(url, count, measured, concurrency=CONCURRENCY, body=BODY)
        server = benchlib.tree_cpu(proc.pid) - server
        database = benchlib.postgres_cpu(db_name) - database
        case = Case(label, load, server, database)
        case.payments = len(warmed.latencies_ms) + len(load.latencies_ms)
        return case
    finally:
        benchlib.stop(proc)


async def _setup(db_name: str) -> str:
    """An account and an API key, made by kassa itself; the key's secret."""
    from kassa.accounts.accounts import create_account
    from kassa.accounts.api_keys import create_api_key
    from kassa.core.db import create_engine, session_factory, transaction

    engine = create_engine(benchlib.db_url(db_name, "postgresql+asyncpg"))
    async with transaction(session_factory(engine)) as session:
        account = await create_account(session, name="bench")
        issued = await create_api_key(session, account_id=account.id)
    await engine.dispose()
    return issued.secret


def _uvicorn(app: str, port: int, *, factory: bool) -> list[str]:
    """The settings ``kassa serve`` gives uvicorn (kassa/cli.py), for another app."""
    code = (
        f"import uvicorn; uvicorn.run({app!r}, factory={factory}, host='127.0.0.1', "
        f"port={port}, workers={WORKERS}, log_config=None, access_log=False, "
        "server_header=False)"
    )
    return [sys.executable, "-c", code]


async def _case(
    db_name: str,
    label: str,
    command: list[str],
    env: dict[str, str],
    port: int,
    count: int,
    headers: dict[str, str],
    *,
    writes: bool,
) -> Case:
    """Measure one server; for one that writes, also what it wrote (then clear it)."""
    before = await _counters(db_name)
    case = await _measure(label, command, env, port, count, headers, db_name)
    if writes:
        after = await _counters(db_name)
        case.counters = {k: after[k] - before[k] for k in after}
        case.rows = await _rows(db_name)
        await _truncate(db_name)
    return case


async def _inserts(db_name: str, count: int) -> float:
    import asyncpg

    pool = await asyncpg.create_pool(
        benchlib.db_url(db_name), min_size=CONCURRENCY, max_size=CONCURRENCY
    )
    try:
        await pool.execute("DROP TABLE IF EXISTS bench_rows")
        await pool.execute(
            "CREATE TABLE bench_rows (id text PRIMARY KEY, account_id text NOT NULL, "
            "amount bigint NOT NULL, currency text NOT NULL, status text NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )
        next_index = 0

        async def writer() -> None:
            nonlocal next_index
            async with pool.acquire() as conn:
                while next_index < count:
                    i = next_index
                    next_index += 1
                    await conn.execute(
                        "INSERT INTO bench_rows (id, account_id, amount, currency, status) "
                        "VALUES ($1, 'acct_bench', 1000, 'USD', 'succeeded')",
                        f"row_{i}",
                    )

        started = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(CONCURRENCY)))
        return count / (time.perf_counter() - started)
    finally:
        await pool.execute("DROP TABLE IF EXISTS bench_rows")
        await pool.close()


# -- PostgreSQL: kassa beside its ceilings --------------------------------------------------
def _print_rows(kassa: Case, ceiling: Case) -> None:
    """Rows per payment and their mean stored size, table by table: the ceiling must write
    what kassa writes, or the ratio means nothing."""
    print(f"\nrows per payment (mean bytes per row)   {'kassa':>18}{'honest ceiling':>22}")
    k_payments = max(1, kassa.rows["payments"][0])
    c_payments = max(1, ceiling.rows["payments"][0])
    for table in TABLES:
        (kn, kb), (cn, cb) = kassa.rows[table], ceiling.rows[table]
        print(
            f"  {table:38}{kn / k_payments:8.2f} ({kb:6.0f} B){cn / c_payments:10.2f} ({cb:6.0f} B)"
        )
    for name in ("transactions", "inserted", "updated"):
        k = kassa.counters.get(name, 0) / max(1, kassa.payments)
        c = ceiling.counters.get(name, 0) / max(1, ceiling.payments)
        print(f"  {'PostgreSQL ' + name + ' per payment':38}{k:8.2f}{'':11}{c:10.2f}")


async def _postgres(count: int, rounds: int) -> None:
    async with benchlib.fresh_database("kassa_bench_payins") as db_name:
        secret = await _setup(db_name)
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        print(
            f"pay-ins benchmark (PostgreSQL): {count} payments after {min(WARM_UP, count)} to "
            f"warm up, {CONCURRENCY} clients, {WORKERS} server processes"
        )
        print(f"{'':40}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}{'failed':>8}")
        with tempfile.TemporaryDirectory() as tmp:
            env = benchlib.kassa_env(
                database_url=benchlib.db_url(db_name),
                api_workers=str(WORKERS),
                rate_limit_per_key="0",
                rate_limit_per_ip="0",
                var_dir=tmp,
                log_level="WARNING",
                database_pool_size=str(POOL),
            )
            kassa_runs, ceiling_runs = [], []
            for _ in range(rounds):
                port = benchlib.free_port()
                env["KASSA_PORT"] = str(port)
                kassa = await _case(
                    db_name,
                    "kassa POST /v1/payments",
                    [sys.executable, "-m", "kassa", "serve"],
                    env,
                    port,
                    count,
                    headers,
                    writes=True,
                )
                print(kassa.line(), flush=True)
                kassa_runs.append(kassa)
                port = benchlib.free_port()
                ceiling = await _case(
                    db_name,
                    "honest ceiling (uvicorn + asyncpg)",
                    _uvicorn("payins_ceiling:honest_app", port, factory=True),
                    benchlib.with_bench_modules(env),
                    port,
                    count,
                    headers,
                    writes=True,
                )
                print(ceiling.line(), flush=True)
                ceiling_runs.append(ceiling)
            kassa = max(kassa_runs, key=lambda c: c.load.rate)
            ceiling = max(ceiling_runs, key=lambda c: c.load.rate)
            port = benchlib.free_port()
            command = _uvicorn("payins_ceiling:bare_app", port, factory=False)
            bare = await _case(
                db_name,
                "bare ASGI endpoint (writes nothing)",
                command,
                benchlib.with_bench_modules(env),
                port,
                count,
                headers,
                writes=False,
            )
            print(bare.line(), flush=True)
        insert_rate = await benchlib.retrying(lambda: _inserts(db_name, count))
        print(f"{'raw PostgreSQL INSERTs (asyncpg)':40}{insert_rate:12.0f}")
    _print_rows(kassa, ceiling)
    print("\nCPU per payment (ms)                        server processes   PostgreSQL backends")
    for case in (kassa, ceiling, bare):
        print(
            f"  {case.label:40}{1000 * case.server_cpu / count:10.2f}"
            f"{1000 * case.pg_cpu / count:22.2f}"
        )
    print("  (a 2-core machine has 2,000 ms per second for all of it, this client included)")
    ratio = kassa.load.rate / ceiling.load.rate
    print(
        f"\nkassa/honest ceiling = {ratio:.2f} (goal >= 0.50"
        f"{f'; the best of {rounds} interleaved runs each' if rounds > 1 else ''}); "
        "kassa/bare endpoint = "
        f"{kassa.load.rate / bare.load.rate:.2f}; kassa/raw inserts = "
        f"{kassa.load.rate / insert_rate:.2f}"
    )
    lat = kassa.load.latencies_ms
    print(
        f"kassa: mean latency {statistics.fmean(lat):.1f} ms; failed {kassa.load.failures}"
        f"{' ' + json.dumps(kassa.load.statuses) if kassa.load.failures else ''}"
    )


# -- SQLite: the embedded default, as `make run` starts it ----------------------------------
async def _sqlite(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = benchlib.free_port()
        env = benchlib.kassa_env(
            var_dir=tmp,
            port=str(port),
            rate_limit_per_key="0",
            rate_limit_per_ip="0",
            log_level="WARNING",
        )
        proc = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "kassa", "run"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            await benchlib.wait_up(f"{base}/health", proc)
            secret = json.loads((Path(tmp) / "demo.json").read_text())["api_key"]
            headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
            run = secrets.token_hex(4)
            url = f"{base}/v1/payments"
            warm = min(200, count)
            print(
                f"pay-ins benchmark (SQLite, kassa run: 1 API process + 1 worker): {count} "
                f"payments after {warm} to warm up, {SQLITE_CLIENTS} clients, unique "
                "Idempotency-Keys",
                flush=True,
            )
            await benchlib.post_load(
                url,
                warm,
                lambda i: {**headers, "Idempotency-Key": f"warm-{run}-{i}"},
                concurrency=SQLITE_CLIENTS,
                body=BODY,
            )
            cpu = benchlib.tree_cpu(proc.pid)
            load = await benchlib.post_load(
                url,
                count,
                lambda i: {**headers, "Idempotency-Key": f"bench-{run}-{i}"},
                concurrency=SQLITE_CLIENTS,
                body=BODY,
            )
            cpu = benchlib.tree_cpu(proc.pid) - cpu
        finally:
            benchlib.stop(proc, timeout=40)
    lat = load.latencies_ms
    p50, p99 = benchlib.pct(lat, 0.5), benchlib.pct(lat, 0.99)
    print(f"{'':28}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'errors':>8}")
    print(
        f"{'kassa run (SQLite)':28}{load.rate:12.0f}{p50:10.1f}{p99:10.1f}{max(lat):10.1f}"
        f"{load.failures:8}"
    )
    if load.failures:
        print(f"errors: {json.dumps(load.statuses)}")
    print(f"CPU per payment, API + worker processes: {1000 * cpu / count:.2f} ms")
    verdict = [
        f"throughput {'ok' if load.rate >= 200 else 'BELOW'} (goal >= 200/s)",
        f"p99 {'ok' if p99 <= 250 else 'ABOVE'} (goal <= 250 ms)",
    ]
    print("goals: " + "; ".join(verdict))


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--payments", type=int, help="default: 10,000 (2,000 with --sqlite)")
    parser.add_argument("--sqlite", action="store_true", help="the embedded default instead")
    parser.add_argument(
        "--rounds", type=int, default=1, help="kassa and ceiling runs, interleaved; best shown"
    )
    opts = parser.parse_args()
    if opts.sqlite:
        await _sqlite(opts.payments or 2000)
    else:
        await _postgres(opts.payments or 10_000, opts.rounds)


if __name__ == "__main__":
    asyncio.run(main())
