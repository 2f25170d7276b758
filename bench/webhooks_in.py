"""Inbound webhooks benchmark (PostgreSQL): Stripe-signed events with unique ids POSTed to
``/webhooks/stripe`` of a real ``kassa serve`` (2 API processes), from this process with
aiohttp over 64 connections (a closed loop: each connection sends its next event once the
last one was answered).

Printed: events per second verified, durably committed and acknowledged; p50 and p99
acknowledgement latency; and, measured in the same run on the same stack (uvicorn with the
settings ``kassa serve`` gives it, 2 processes), the two ceilings of ``webhooks_in_ceiling.py``:
a bare ASGI endpoint that only verifies the HMAC, and one that verifies and does one plain
INSERT per request; then the ratios. Afterwards it counts the stored rows (and their
processing jobs) of every acknowledged event, and fails if one is missing.

Goals (issue 12): kassa >= 5,000 events/s, >= 1.5x the verify+INSERT ceiling, p99 <= 50 ms.

    .venv/bin/python bench/webhooks_in.py [--events 20000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import aiohttp
import asyncpg

import benchlib

CONCURRENCY = 64
WORKERS = 2
POOL = 10
WARM_UP = 2000
SECRET = "whsec_bench_" + "s" * 24


@dataclass
class Run:
    label: str
    seconds: float
    latencies_ms: list[float]
    acknowledged: list[str]  # event ids answered 2xx
    failures: dict[str, int]
    server_cpu: float
    pg_cpu: float
    commits: int = 0

    @property
    def rate(self) -> float:
        return len(self.acknowledged) / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        lat = self.latencies_ms
        failed = sum(self.failures.values())
        return (
            f"{self.label:46}{self.rate:12.0f}{benchlib.pct(lat, 0.5):10.1f}"
            f"{benchlib.pct(lat, 0.99):10.1f}{failed:8}"
        )


def _events(prefix: str, count: int) -> list[tuple[str, bytes, str]]:
    """(event id, body, Stripe-Signature) of ``count`` events, signed now."""
    t = str(int(time.time()))
    out = []
    for i in range(count):
        event_id = f"evt_{prefix}_{i:07d}"
        body = json.dumps(
            {
                "id": event_id,
                "object": "event",
                "api_version": "2024-06-20",
                "created": int(t),
                "type": "payment_intent.succeeded",
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "data": {
                    "object": {
                        "id": f"pi_{prefix}{i:07d}",
                        "object": "payment_intent",
                        "amount": 2000,
                        "amount_received": 2000,
                        "currency": "usd",
                        "status": "succeeded",
                        "metadata": {"kassa_payment": f"pay_{prefix}{i:07d}"},
                    }
                },
            },
            separators=(",", ":"),
        ).encode()
        mac = hmac.new(SECRET.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
        out.append((event_id, body, f"t={t},v1={mac}"))
    return out


async def _load(
    url: str, events: list[tuple[str, bytes, str]]
) -> tuple[float, list[float], list[str], dict[str, int]]:
    latencies: list[float] = []
    acknowledged: list[str] = []
    failed: dict[str, int] = {}
    next_index = 0
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def client() -> None:
            nonlocal next_index
            while next_index < len(events):
                event_id, body, signature = events[next_index]
                next_index += 1
                headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
                started = time.perf_counter()
                try:
                    async with http.post(url, data=body, headers=headers) as response:
                        await response.read()
                        if 200 <= response.status < 300:
                            acknowledged.append(event_id)
                        else:
                            key = str(response.status)
                            failed[key] = failed.get(key, 0) + 1
                except (aiohttp.ClientError, OSError) as exc:
                    failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, acknowledged, failed


async def _commits(db_name: str) -> int:
    conn = await asyncpg.connect(benchlib.db_url(db_name))
    try:
        return int(
            await conn.fetchval(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            )
        )
    finally:
        await conn.close()


async def _measure(
    label: str, command: list[str], env: dict[str, str], port: int, count: int, db_name: str
) -> Run:
    proc = subprocess.Popen(command, env=env, cwd=benchlib.ROOT)  # noqa: ASYNC220
    try:
        base = f"http://127.0.0.1:{port}"
        await benchlib.wait_up(f"{base}/health", proc)
        url = f"{base}/webhooks/stripe"
        run = secrets.token_hex(3)
        await _load(url, _events(f"w{run}", min(WARM_UP, count)))
        events = _events(f"m{run}", count)
        server, database = benchlib.tree_cpu(proc.pid), benchlib.postgres_cpu(db_name)
        commits = await _commits(db_name)
        seconds, latencies, acknowledged, failed = await _load(url, events)
        server = benchlib.tree_cpu(proc.pid) - server
        database = benchlib.postgres_cpu(db_name) - database
        found = Run(label, seconds, latencies, acknowledged, failed, server, database)
        found.commits = await _commits(db_name) - commits - 1  # less our own read
        return found
    finally:
        benchlib.stop(proc)


def _uvicorn(app: str, port: int) -> list[str]:
    """The settings ``kassa serve`` gives uvicorn (kassa/cli/processes.py), for another app."""
    code = (
        f"import uvicorn; uvicorn.run({app!r}, host='127.0.0.1', port={port}, "
        f"workers={WORKERS}, log_config=None, access_log=False, server_header=False)"
    )
    return [sys.executable, "-c", code]


async def _missing(db_name: str, run: Run) -> tuple[int, int]:
    """Acknowledged events without their row, and (for kassa) without their job."""
    conn = await asyncpg.connect(benchlib.db_url(db_name))
    try:
        stored = await conn.fetchval(
            "SELECT count(*) FROM inbound_events WHERE event_id = ANY($1::varchar[])",
            run.acknowledged,
        )
        jobs = await conn.fetchval(
            "SELECT count(*) FROM jobs j JOIN inbound_events e "
            "ON e.id = j.args ->> 'inbound_event_id' "
            "WHERE j.name = 'payins.apply_provider_event' AND e.event_id = ANY($1::varchar[])",
            run.acknowledged,
        )
        await conn.execute("TRUNCATE inbound_events, jobs")
    finally:
        await conn.close()
    return len(run.acknowledged) - int(stored), len(run.acknowledged) - int(jobs)


async def _postgres(count: int, rounds: int) -> int:
    async with benchlib.fresh_database("kassa_bench_webhooks_in") as db_name:
        print(
            f"inbound webhooks benchmark (PostgreSQL): {count} Stripe-signed events with unique "
            f"ids after {min(WARM_UP, count)} to warm up, {CONCURRENCY} connections, "
            f"{WORKERS} server processes"
        )
        print(f"{'':46}{'events/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'failed':>8}")
        with tempfile.TemporaryDirectory() as tmp:
            env = benchlib.kassa_env(
                database_url=benchlib.db_url(db_name),
                api_workers=str(WORKERS),
                var_dir=tmp,
                log_level="WARNING",
                database_pool_size=str(POOL),
                stripe_secret_key="sk_test_bench",
                stripe_webhook_secret=SECRET,
            )
            ceiling_env = {
                **benchlib.with_bench_modules(env),
                "BENCH_DATABASE_URL": benchlib.db_url(db_name),
            }
            kassa_runs, insert_runs, verify_runs = [], [], []
            lost = 0
            for _ in range(rounds):
                port = benchlib.free_port()
                env["KASSA_PORT"] = str(port)
                kassa = await _measure(
                    "kassa POST /webhooks/stripe (group commit)",
                    [sys.executable, "-m", "kassa", "serve"],
                    env,
                    port,
                    count,
                    db_name,
                )
                print(kassa.line(), flush=True)
                rows, jobs = await _missing(db_name, kassa)
                lost += rows + jobs
                kassa_runs.append((kassa, rows, jobs))
                port = benchlib.free_port()
                insert = await _measure(
                    "ceiling: verify + one INSERT per request",
                    _uvicorn("webhooks_in_ceiling:insert_app", port),
                    ceiling_env,
                    port,
                    count,
                    db_name,
                )
                print(insert.line(), flush=True)
                insert_rows, _ = await _missing(db_name, insert)
                lost += insert_rows
                insert_runs.append(insert)
                port = benchlib.free_port()
                verify = await _measure(
                    "ceiling: bare ASGI, verify only (no write)",
                    _uvicorn("webhooks_in_ceiling:verify_app", port),
                    ceiling_env,
                    port,
                    count,
                    db_name,
                )
                print(verify.line(), flush=True)
                verify_runs.append(verify)
    kassa, rows, jobs = max(kassa_runs, key=lambda r: r[0].rate)
    insert = max(insert_runs, key=lambda r: r.rate)
    verify = max(verify_runs, key=lambda r: r.rate)
    print(
        "\nper event                                     server CPU ms   PostgreSQL CPU ms   commits"
    )
    for case in (kassa, insert, verify):
        n = max(1, len(case.acknowledged))
        print(
            f"  {case.label:44}{1000 * case.server_cpu / n:10.3f}{1000 * case.pg_cpu / n:18.3f}"
            f"{case.commits / n:12.3f}"
        )
    print("  (a 2-core machine has 2,000 CPU ms per second for all of it, this client included)")
    p99 = benchlib.pct(kassa.latencies_ms, 0.99)
    ratio = kassa.rate / insert.rate if insert.rate else 0.0
    print(
        f"\nkassa/verify+INSERT ceiling = {ratio:.2f} (goal >= 1.50); kassa/verify-only ceiling "
        f"= {kassa.rate / verify.rate if verify.rate else 0:.2f}"
        f"{f'; the best of {rounds} interleaved runs each' if rounds > 1 else ''}"
    )
    print(
        f"kassa: {len(kassa.acknowledged)} acknowledged, {rows} of them without their row, "
        f"{jobs} without their processing job; failed "
        f"{sum(kassa.failures.values())}{' ' + json.dumps(kassa.failures) if kassa.failures else ''}"
    )
    verdict = [
        f"{kassa.rate:.0f}/s {'>=' if kassa.rate >= 5000 else '<'} 5,000/s",
        f"{ratio:.2f}x {'>=' if ratio >= 1.5 else '<'} 1.5x the verify+INSERT ceiling",
        f"p99 {p99:.1f} ms {'<=' if p99 <= 50 else '>'} 50 ms",
    ]
    print("goals: " + "; ".join(verdict))
    if lost:
        print(f"FAILED: {lost} acknowledged events (or their jobs) are missing from the database")
        return 1
    return 0


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=1, help="interleaved runs; best shown")
    opts = parser.parse_args()
    return await _postgres(opts.events, opts.rounds)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
