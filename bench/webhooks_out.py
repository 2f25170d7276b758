"""Outbound webhook deliveries per second and event-to-delivery latency, on PostgreSQL with 1
and 2 real worker processes, beside the ceiling measured in the same run.

Run: ``.venv/bin/python bench/webhooks_out.py [--events N]``. It creates and drops its own
database on the server at ``KASSA_BENCH_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/postgres) and starts a receiver (aiohttp, answering 200)
in a process of its own so it does not share the workers' CPU.

- throughput: N events emitted with ``emit()`` in batches of 1,000, one matching endpoint; from
  the first emit to the receiver's last arrival. Each event is a fan-out job plus a signed
  delivery job whose attempt is recorded.
- latency: events emitted at a steady, modest rate (``--rate``, 200/s) for ``--seconds``;
  p50/p99 of (receiver arrival - event created_at).
- ceiling: the same number of unsigned POSTs to the same receiver from a plain aiohttp client
  loop with the same concurrency (worker concurrency x workers).
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "KASSA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CONCURRENCY = 32  # the worker's default (KASSA_WORKER_CONCURRENCY)
SECRET_KEY = "bench-" + "x" * 40
BATCH = 1000


# -- the receiver (its own process) ------------------------------------------------------------
def serve(port: int) -> None:
    from aiohttp import web

    state: dict[str, list[float]] = {"latency": [], "arrival": []}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        state["arrival"].append(now)
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
            }
        )

    async def reset(_: web.Request) -> web.Response:
        state["latency"].clear()
        state["arrival"].clear()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# -- the benchmark -----------------------------------------------------------------------------
def _db_url(name: str, driver: str = "postgresql") -> str:
    return (ADMIN_URL.rsplit("/", 1)[0] + f"/{name}").replace("postgresql", driver, 1)


async def _receiver_call(port: int, method: str, path: str) -> dict[str, float]:
    import aiohttp

    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"http://127.0.0.1:{port}{path}") as resp,
    ):
        return await resp.json() if path == "/stats" else {}


async def _ceiling(port: int, n: int, concurrency: int) -> float:
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


async def _case(
    url: str, port: int, account_id: str, workers: int, opts: argparse.Namespace, var_dir: str
) -> dict[str, float]:
    import asyncpg

    raw = url.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(raw)
    await conn.execute("TRUNCATE jobs, workers, events, webhook_attempts, webhook_deliveries")
    procs = _start_workers(url, workers, var_dir)
    try:
        while await conn.fetchval("SELECT count(*) FROM workers") < workers:
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a worker process exited early; see its output above")
            await asyncio.sleep(0.1)
        # throughput
        await _receiver_call(port, "POST", "/reset")
        start = await _emit(url, account_id, opts.events, BATCH)
        print(f"  emitted {opts.events} events in {time.time() - start:.2f}s", flush=True)
        stats = await _wait_for(port, opts.events, procs, start)
        rate = opts.events / (stats["last"] - start)
        saturated = (stats["p50"], stats["p99"])
        failed = await conn.fetchval("SELECT count(*) FROM webhook_attempts WHERE NOT succeeded")
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
    return {
        "rate": rate,
        "sat_p50": saturated[0],
        "sat_p99": saturated[1],
        "p50": steady["p50"],
        "p99": steady["p99"],
        "max": steady["max"],
        "failed_attempts": float(failed),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--rate", type=float, default=200.0, help="steady events/s")
    parser.add_argument("--seconds", type=float, default=10.0)
    opts = parser.parse_args()

    import asyncpg

    from kassa.core import migrate
    from kassa.jobs import subscribe
    from kassa.jobs.catalog import declare_event
    from kassa.webhooks.outbound.delivery import FAN_OUT_JOB

    declare_event("bench.happened", "Emitted by bench/webhooks_out.py.", {"n": 1})
    subscribe("*", FAN_OUT_JOB)  # as the composition root does in every kassa process
    port = _free_port()
    receiver = _start_receiver(port)
    name = f"kassa_bench_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _db_url(name, "postgresql+asyncpg")
    results: list[tuple[int, dict[str, float], float]] = []
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
                print(f"ceiling: {opts.events} unsigned POSTs, {concurrency} in flight", flush=True)
                ceiling = await _ceiling(port, opts.events, concurrency)
                print(f"  {ceiling:,.0f} POST/s", flush=True)
                print(f"{workers} worker(s) x {CONCURRENCY}: {opts.events} events", flush=True)
                found = await _case(url, port, account_id, workers, opts, var_dir)
                print(f"  {found['rate']:,.0f} deliveries/s", flush=True)
                results.append((workers, found, ceiling))
    finally:
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(10)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    print()
    print(
        f"{'workers':>7}{'deliveries/s':>14}{'ceiling POST/s':>16}{'ratio':>7}"
        f"{'p50 (steady)':>14}{'p99 (steady)':>14}{'p99 (saturated)':>17}{'failed':>8}"
    )
    for workers, r, ceiling in results:
        print(
            f"{workers:>7}{r['rate']:>14,.0f}{ceiling:>16,.0f}{r['rate'] / ceiling:>7.2f}"
            f"{r['p50'] * 1000:>12.0f}ms{r['p99'] * 1000:>12.0f}ms{r['sat_p99'] * 1000:>15.0f}ms"
            f"{int(r['failed_attempts']):>8}"
        )
    print(
        f"steady rate {opts.rate:g} events/s; targets: >= 1,000 deliveries/s, >= 50 % of the "
        f"ceiling, p99 <= 1 s when not saturated; {os.cpu_count()} CPUs"
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    else:
        asyncio.run(main())
