"""Outbound webhook deliveries per second and event-to-delivery latency, on PostgreSQL with 1
and 2 real worker processes, beside the ceiling measured in the same run.

Run: ``.venv/bin/python bench/webhooks_out.py [--events N]``. It creates and drops its own
database on the server at ``KASSA_BENCH_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/postgres) and starts a receiver (aiohttp, answering 200)
in a process of its own so it does not share the workers' CPU.

- throughput: a backlog of N events emitted with ``emit()`` in batches of 1,000 (one matching
  endpoint) before the workers start; deliveries per second from the receiver's first arrival
  to its last, so neither the emitting nor the workers' start-up is counted. Each event is a
  fan-out job whose first attempt (signed, POSTed, recorded with its delivery) the fan-out
  batch makes itself.
- latency: events emitted at a steady, modest rate (``--rate``, 200/s) for ``--seconds``;
  p50/p99 of (receiver arrival - event created_at).
- honest ceiling (``webhooks_ceiling.py``, as many processes as kassa workers): a bare
  asyncio + asyncpg + aiohttp worker that claims batches of up to 16 of the same fan-out jobs
  (``FOR UPDATE SKIP LOCKED``, joined to their events and endpoints), signs them, POSTs them
  concurrently and records the deliveries, the attempts and the finished jobs in one statement
  per batch, with kassa's concurrency (32 per process); measured like kassa, on the same
  backlog. Both sides' rows per event, row sizes and body sizes are printed.
- POST loop: the same number of unsigned POSTs to the same receiver from a plain aiohttp
  client loop with the same concurrency, writing nothing (the transport's own ceiling).

Goal (issue 11): kassa >= 0.6 of the honest ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from typing import Any

from benchlib import (
    ADMIN_URL,
    BENCH,
    ROOT,
    SECRET_KEY,
    cpu_seconds,
    db_url,
    free_port,
    postgres_cpu,
)

CONCURRENCY = 32  # the worker's default (KASSA_WORKER_CONCURRENCY)
BATCH = 1000


# -- the receiver (its own process) ------------------------------------------------------------
def serve(port: int) -> None:
    from aiohttp import web

    state: dict[str, list[float]] = {"latency": [], "arrival": [], "bytes": []}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        state["arrival"].append(now)
        state["bytes"].append(len(body))
        if body.startswith(b'{"id"'):
            created = datetime.fromisoformat(json.loads(body)["created_at"]).timestamp()
            state["latency"].append(now - created)
        return web.Response(text="ok")

    async def stats(_: web.Request) -> web.Response:
        arrivals, latency = state["arrival"], sorted(state["latency"])

        def pct(p: float) -> float:
            return latency[min(len(latency) - 1, int(p * len(latency)))] if latency else 0.0

        return web.json_response(
            {
                "count": len(arrivals),
                "first": min(arrivals, default=0.0),
                "last": max(arrivals, default=0.0),
                "p50": pct(0.50),
                "p99": pct(0.99),
                "max": latency[-1] if latency else 0.0,
                "body_bytes": sum(state["bytes"]) / max(1, len(state["bytes"])),
            }
        )

    async def reset(_: web.Request) -> web.Response:
        for values in state.values():
            values.clear()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# -- the benchmark -----------------------------------------------------------------------------
async def _receiver_call(port: int, method: str, path: str) -> dict[str, float]:
    import aiohttp

    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"http://127.0.0.1:{port}{path}") as resp,
    ):
        return await resp.json() if path == "/stats" else {}


async def _post_loop(port: int, n: int, concurrency: int) -> float:
    """Unsigned POSTs from a plain aiohttp loop with ``concurrency`` requests in flight."""
    import aiohttp

    await _receiver_call(port, "POST", "/reset")
    remaining = n
    body = b'{"ping": true}' + b" " * 300

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            async with http.post(f"http://127.0.0.1:{port}/hook", data=body) as resp:
                await resp.read()

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        return n / (time.perf_counter() - start)


def _start_workers(url: str, count: int, var_dir: str) -> list[subprocess.Popen[bytes]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KASSA_")},
        "KASSA_DATABASE_URL": url,
        "KASSA_SECRET_KEY": SECRET_KEY,
        "KASSA_VAR_DIR": var_dir,
        "KASSA_LOG_LEVEL": "WARNING",
        "KASSA_WEBHOOK_ALLOW_PRIVATE": "true",
        "KASSA_WORKER_CONCURRENCY": str(CONCURRENCY),
        # one endpoint takes all the traffic here: let it use every worker slot
        "KASSA_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT": str(CONCURRENCY),
        "PYTHONPATH": str(ROOT),
    }
    return [
        subprocess.Popen([sys.executable, "-m", "kassa", "worker"], env=env, cwd=var_dir)
        for _ in range(count)
    ]


def _start_receiver(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--serve", str(port)])


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


async def _setup(url: str, port: int) -> str:
    """An account with one endpoint subscribed to the benchmark's event; its account id."""
    from kassa.accounts.accounts import create_account
    from kassa.core.db import create_engine, session_factory, transaction
    from kassa.core.settings import Settings
    from kassa.webhooks.outbound.config import OutboundConfig
    from kassa.webhooks.outbound.endpoints import create_endpoint, secret_box

    settings = Settings(webhook_allow_private=True, secret_key=SECRET_KEY)  # type: ignore[call-arg]
    engine = create_engine(url, pool_size=2)  # the workers need the connections
    async with transaction(session_factory(engine)) as session:
        account = await create_account(session, name="Bench")
        await create_endpoint(
            session,
            account_id=account.id,
            livemode=False,
            url=f"http://127.0.0.1:{port}/hook",
            enabled_events=["bench.*"],
            description="bench",
            config=OutboundConfig.from_settings(settings),
            box=secret_box(settings.secret_key_bytes()),
        )
    await engine.dispose()
    return account.id


async def _emit(url: str, account_id: str, n: int, per_txn: int, every: float = 0.0) -> float:
    """Emit ``n`` events, ``per_txn`` per transaction, one transaction every ``every`` s."""
    from kassa.core.db import create_engine, session_factory, transaction
    from kassa.jobs import emit

    engine = create_engine(url, pool_size=2)  # the workers need the connections
    sessions = session_factory(engine)
    start = time.time()
    sent = 0
    while sent < n:
        async with transaction(sessions) as session:
            for _ in range(min(per_txn, n - sent)):
                emit(
                    session, "bench.happened", {"n": sent, "pad": "x" * 200}, account_id=account_id
                )
                sent += 1
        if every:
            await asyncio.sleep(max(0.0, start + (sent / per_txn) * every - time.time()))
    await engine.dispose()
    return start


async def _wait_for(
    port: int, n: int, procs: list[subprocess.Popen[bytes]], start: float
) -> dict[str, float]:
    while True:
        stats = await _receiver_call(port, "GET", "/stats")
        print(
            f"  ... {int(stats['count'])}/{n} delivered after {time.time() - start:.1f}s",
            flush=True,
        )
        if stats["count"] >= n:
            return stats
        if any(p.poll() is not None for p in procs):
            raise SystemExit("a worker process died; see its output above")
        await asyncio.sleep(1.0)


_TABLES = ("webhook_deliveries", "webhook_attempts")


async def _written(conn: Any, events: int) -> dict[str, float]:
    """What a throughput run wrote, per event: rows and mean stored row size per table, and
    the fan-out jobs finished."""
    found: dict[str, float] = {}
    for table in _TABLES:
        row = await conn.fetchrow(
            f"SELECT count(*), coalesce(avg(pg_column_size(t.*)), 0) FROM {table} t"
        )
        found[f"{table}_rows"] = row[0] / events
        found[f"{table}_bytes"] = float(row[1])
    done = await conn.fetchval(
        "SELECT count(*) FROM jobs WHERE name = 'webhooks.fan_out' AND status = 'succeeded'"
    )
    found["jobs_finished"] = done / events
    return found


async def _started(conn: Any, procs: list[subprocess.Popen[bytes]], workers: int) -> None:
    while await conn.fetchval("SELECT count(*) FROM workers") < workers:
        if any(p.poll() is not None for p in procs):
            raise SystemExit("a worker process exited early; see its output above")
        await asyncio.sleep(0.1)


async def _backlog(url: str, port: int, account_id: str, events: int) -> None:
    """``events`` emitted with kassa's ``emit()`` (a fan-out job each) before any worker runs."""
    await _receiver_call(port, "POST", "/reset")
    start = await _emit(url, account_id, events, BATCH)
    print(f"  emitted {events} events in {time.time() - start:.2f}s", flush=True)


async def _drain(
    conn: Any,
    port: int,
    events: int,
    procs: list[subprocess.Popen[bytes]],
    workers: int,
    db_name: str,
) -> dict[str, float]:
    """Deliveries per second of the backlog, from the receiver's first arrival to its last
    (the workers' start-up and the emitting are not counted), the CPU the workers and
    PostgreSQL spent per delivery, and what was written."""
    await _started(conn, procs, workers)
    pids = {p.pid for p in procs}

    def workers_cpu() -> float:
        return cpu_seconds(lambda pid, _, __: pid in pids)

    cpu, pg = workers_cpu(), postgres_cpu(db_name)
    stats = await _wait_for(port, events, procs, time.time())
    await asyncio.sleep(0.5)  # the last batch's transaction commits after its POSTs
    found = {
        "rate": (events - 1) / max(1e-6, stats["last"] - stats["first"]),
        "body_bytes": stats["body_bytes"],
        "cpu_ms": 1000 * (workers_cpu() - cpu) / events,
        "pg_ms": 1000 * (postgres_cpu(db_name) - pg) / events,
    }
    found["failed_attempts"] = float(
        await conn.fetchval("SELECT count(*) FROM webhook_attempts WHERE NOT succeeded")
    )
    found.update(await _written(conn, events))
    return found


def _name(url: str) -> str:
    return url.rsplit("/", 1)[1]


_CLEARED = "jobs, workers, events, webhook_attempts, webhook_deliveries"


async def _case(
    url: str,
    port: int,
    account_id: str,
    workers: int,
    opts: argparse.Namespace,
    var_dir: str,
    *,
    steady: bool,
) -> dict[str, float]:
    import asyncpg

    raw = url.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(raw)
    await conn.execute(f"TRUNCATE {_CLEARED}")
    await _backlog(url, port, account_id, opts.events)
    procs = _start_workers(url, workers, var_dir)
    try:
        found = await _drain(conn, port, opts.events, procs, workers, _name(url))
        if not steady:
            return found
        # latency at a steady modest rate
        await _receiver_call(port, "POST", "/reset")
        n = int(opts.rate * opts.seconds)
        per_txn = max(1, int(opts.rate / 20))  # 20 transactions a second
        print(f"  steady {opts.rate:g} events/s for {opts.seconds:g}s", flush=True)
        start = await _emit(url, account_id, n, per_txn, every=per_txn / opts.rate)
        steady = await _wait_for(port, n, procs, start)
    finally:
        _stop(procs)
        await conn.close()
    found.update(p50=steady["p50"], p99=steady["p99"], max=steady["max"])
    return found


async def _honest(
    url: str, port: int, account_id: str, workers: int, opts: argparse.Namespace
) -> dict[str, float]:
    """The same backlog through ``webhooks_ceiling.py`` workers instead of kassa's."""
    import asyncpg

    raw = url.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(raw)
    await conn.execute(f"TRUNCATE {_CLEARED}")
    await _backlog(url, port, account_id, opts.events)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KASSA_")},
        "KASSA_SECRET_KEY": SECRET_KEY,
        "PYTHONPATH": str(ROOT / "src"),
    }
    command = [sys.executable, str(BENCH / "webhooks_ceiling.py"), raw]
    procs = [
        subprocess.Popen([*command, "--concurrency", str(CONCURRENCY)], env=env)  # noqa: ASYNC220
        for _ in range(workers)
    ]
    try:
        return await _drain(conn, port, opts.events, procs, workers, _name(url))
    finally:
        _stop(procs)
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--rate", type=float, default=200.0, help="steady events/s")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--rounds", type=int, default=2, help="kassa and ceiling runs, interleaved; best shown"
    )
    opts = parser.parse_args()

    import asyncpg

    from kassa.core import migrate
    from kassa.jobs import subscribe
    from kassa.jobs.catalog import declare_event
    from kassa.webhooks.outbound.delivery import FAN_OUT_JOB

    declare_event("bench.happened", "Emitted by bench/webhooks_out.py.", {"n": 1})
    subscribe("*", FAN_OUT_JOB)  # as the composition root does in every kassa process
    port = free_port()
    receiver = _start_receiver(port)
    name = f"kassa_bench_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = db_url(name, "postgresql+asyncpg")
    results: list[tuple[int, dict[str, float], dict[str, float], float]] = []
    try:
        print(f"database {name}; migrating; receiver on 127.0.0.1:{port}", flush=True)
        await asyncio.to_thread(migrate.upgrade, url)
        for _ in range(50):
            try:
                await _receiver_call(port, "POST", "/reset")
                break
            except OSError:
                await asyncio.sleep(0.1)
        account_id = await _setup(url, port)
        with tempfile.TemporaryDirectory() as var_dir:
            for workers in (int(w) for w in opts.workers.split(",")):
                concurrency = CONCURRENCY * workers
                print(f"POST loop: {opts.events} unsigned POSTs, {concurrency} in flight")
                post_loop = await _post_loop(port, opts.events, concurrency)
                print(f"  {post_loop:,.0f} POST/s", flush=True)
                kassa_runs, honest_runs = [], []
                for round_ in range(opts.rounds):
                    print(f"{workers} kassa worker(s) x {CONCURRENCY}: {opts.events} events")
                    found = await _case(
                        url, port, account_id, workers, opts, var_dir, steady=round_ == 0
                    )
                    print(f"  {found['rate']:,.0f} deliveries/s", flush=True)
                    kassa_runs.append(found)
                    print(
                        f"{workers} honest ceiling worker(s) x {CONCURRENCY}: {opts.events} events"
                    )
                    honest = await _honest(url, port, account_id, workers, opts)
                    print(f"  {honest['rate']:,.0f} deliveries/s", flush=True)
                    honest_runs.append(honest)
                found = {**kassa_runs[0], **max(kassa_runs, key=lambda r: r["rate"])}
                found["failed_attempts"] = sum(r["failed_attempts"] for r in kassa_runs)
                honest = max(honest_runs, key=lambda r: r["rate"])
                honest["failed_attempts"] = sum(r["failed_attempts"] for r in honest_runs)
                results.append((workers, found, honest, post_loop))
    finally:
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(10)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    _report(results, opts)


def _report(
    results: list[tuple[int, dict[str, float], dict[str, float], float]], opts: argparse.Namespace
) -> None:
    print()
    print(
        f"{'workers':>7}{'kassa/s':>9}{'honest ceiling/s':>18}{'kassa/ceiling':>15}"
        f"{'POST loop/s':>13}{'kassa/loop':>12}{'p50 steady':>12}{'p99 steady':>12}"
        f"{'max steady':>12}{'failed':>8}"
    )
    for workers, r, h, loop in results:
        print(
            f"{workers:>7}{r['rate']:>9,.0f}{h['rate']:>18,.0f}{r['rate'] / h['rate']:>15.2f}"
            f"{loop:>13,.0f}{r['rate'] / loop:>12.2f}{r['p50'] * 1000:>10.0f}ms"
            f"{r['p99'] * 1000:>10.0f}ms{r['max'] * 1000:>10.0f}ms"
            f"{int(r['failed_attempts'] + h['failed_attempts']):>8}"
        )
    print("\nwritten per event (mean bytes per row)      kassa           honest ceiling")
    for workers, r, h, _ in results:
        for label, key in (("deliveries", "webhook_deliveries"), ("attempts", "webhook_attempts")):
            print(
                f"  {workers} worker(s): {label:28}{r[key + '_rows']:6.2f} ({r[key + '_bytes']:4.0f} B)"
                f"{h[key + '_rows']:9.2f} ({h[key + '_bytes']:4.0f} B)"
            )
        print(
            f"  {workers} worker(s): {'fan-out jobs finished':28}{r['jobs_finished']:6.2f}"
            f"{h['jobs_finished']:18.2f}"
        )
        print(
            f"  {workers} worker(s): {'POST body (bytes)':28}{r['body_bytes']:6.0f}"
            f"{h['body_bytes']:18.0f}"
        )
    print(
        "\nCPU per delivery (ms)          kassa workers  PostgreSQL   ceiling workers  PostgreSQL"
    )
    for workers, r, h, _ in results:
        print(
            f"  {workers} worker(s){'':18}{r['cpu_ms']:10.3f}{r['pg_ms']:12.3f}"
            f"{h['cpu_ms']:18.3f}{h['pg_ms']:12.3f}"
        )
    print(
        f"deliveries/s: the best of {opts.rounds} interleaved runs per side (a shared machine's "
        "other load only ever slows a run down); failed counts both sides' non-2xx attempts"
    )
    print(
        f"steady rate {opts.rate:g} events/s; goals: kassa >= 0.6 of the honest ceiling, "
        f">= 1,000 deliveries/s, p99 <= 1 s at the steady rate; {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    else:
        asyncio.run(main())
