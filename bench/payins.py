"""Payments per second through the HTTP API, beside a bare ASGI endpoint and raw INSERTs.

Run: ``.venv/bin/python bench/payins.py [--payments N]`` (``make bench`` does). It creates and
drops its own database on the server at ``KASSA_BENCH_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/postgres), starts a real ``python -m kassa serve`` with
``KASSA_API_WORKERS=2`` and rate limits off, and sends N create-and-confirm payments
(``POST /v1/payments``, mock provider, a fresh ``Idempotency-Key`` each) from 64 concurrent
aiohttp clients. Beside it, measured in the same run:

- a bare ASGI endpoint on the same server stack (uvicorn, 2 workers) answering the same POST;
- raw PostgreSQL single-row INSERTs with asyncpg, 64 connections, autocommit.

Targets: >= 800 payments/s, p99 <= 100 ms, >= 25 % of the raw-insert rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "KASSA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CONCURRENCY = 64
WORKERS = 2
BODY = {"amount": {"value": "10.00", "currency": "USD"}, "payment_method": "pm_card_visa"}


# -- the bare ASGI app: same server stack, nothing behind it ----------------------------------
async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the body like a real endpoint would
        message = await receive()
        more = message.get("more_body", False)
    body = b'{"id":"pay_bare","object":"payment","status":"succeeded"}'
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- helpers --------------------------------------------------------------------------------
def _db_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}")
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("server did not start")


def _cpu_seconds(match: Callable[[int, bytes, int], bool]) -> float:
    """utime + stime of the local processes ``match(pid, cmdline, ppid)`` selects (Linux)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if match(int(entry.name), cmdline, int(fields[1])):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _server_cpu(server_pid: int) -> float:
    return _cpu_seconds(lambda pid, _, ppid: server_pid in (pid, ppid))


def _postgres_cpu(db_name: str) -> float:
    """The backends serving the bench's database (0 when PostgreSQL runs elsewhere)."""
    tag = f" {db_name} ".encode()
    return _cpu_seconds(lambda _, cmd, __: cmd.startswith(b"postgres:") and tag in cmd)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def _load(
    url: str, count: int, headers: Callable[[int], dict[str, str]]
) -> tuple[float, list[float], int]:
    """POST ``count`` times from CONCURRENCY clients; (seconds, latencies in ms, failures)."""
    latencies: list[float] = []
    failures = 0
    next_index = 0
    payload = json.dumps(BODY).encode()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def client() -> None:
            nonlocal next_index, failures
            while next_index < count:
                i = next_index
                next_index += 1
                started = time.perf_counter()
                async with http.post(url, data=payload, headers=headers(i)) as response:
                    await response.read()
                    if response.status != 201:
                        failures += 1
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, failures


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the three measurements -----------------------------------------------------------------
async def _kassa(
    db_name: str, count: int, tmp: Path, cpu: dict[str, float]
) -> tuple[float, list[float], int]:
    from kassa.accounts.accounts import create_account
    from kassa.accounts.api_keys import create_api_key
    from kassa.core.db import create_engine, session_factory, transaction

    url = _db_url(db_name).replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_engine(url)
    async with transaction(session_factory(engine)) as session:
        account = await create_account(session, name="bench")
        issued = await create_api_key(session, account_id=account.id)
    await engine.dispose()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KASSA_", "PAYMENT_"))}
    env.update(
        PYTHONPATH=str(ROOT / "src") + os.pathsep + str(ROOT),
        KASSA_DATABASE_URL=_db_url(db_name),
        KASSA_PORT=str(port),
        KASSA_API_WORKERS=str(WORKERS),
        KASSA_RATE_LIMIT_PER_KEY="0",
        KASSA_RATE_LIMIT_PER_IP="0",
        KASSA_SECRET_KEY="bench-" + "x" * 40,
        KASSA_VAR_DIR=str(tmp),
        KASSA_LOG_LEVEL="WARNING",
        KASSA_DATABASE_POOL_SIZE="10",
    )
    proc = subprocess.Popen([sys.executable, "-m", "kassa", "serve"], env=env, cwd=ROOT)  # noqa: ASYNC220
    try:
        base = f"http://127.0.0.1:{port}"
        await _wait_up(f"{base}/health", proc)
        auth = {"Authorization": f"Bearer {issued.secret}", "Content-Type": "application/json"}
        run = secrets.token_hex(4)

        def headers(i: int) -> dict[str, str]:
            return {**auth, "Idempotency-Key": f"bench-{run}-{i}"}

        await _load(f"{base}/v1/payments", min(500, count), lambda i: headers(10**9 + i))
        server, database = _server_cpu(proc.pid), _postgres_cpu(db_name)
        result = await _load(f"{base}/v1/payments", count, headers)
        cpu["server"] = _server_cpu(proc.pid) - server
        cpu["postgres"] = _postgres_cpu(db_name) - database
        return result
    finally:
        _stop(proc)


async def _bare(count: int) -> tuple[float, list[float], int]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    code = (
        "import uvicorn; uvicorn.run('bench.payins:bare_app', host='127.0.0.1', "
        f"port={port}, workers={WORKERS}, log_level='warning', access_log=False, "
        "server_header=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT)  # noqa: ASYNC220
    try:
        base = f"http://127.0.0.1:{port}"
        await _wait_up(f"{base}/", proc)
        headers = {"Content-Type": "application/json", "Authorization": "Bearer sk_test_x"}
        await _load(f"{base}/v1/payments", min(500, count), lambda i: headers)
        return await _load(f"{base}/v1/payments", count, lambda i: headers)
    finally:
        _stop(proc)


async def _inserts(db_name: str, count: int) -> float:
    import asyncpg

    pool = await asyncpg.create_pool(_db_url(db_name), min_size=CONCURRENCY, max_size=CONCURRENCY)
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
        await pool.close()


async def _retrying(fn: Callable[[], Awaitable[float]], tries: int = 10) -> float:
    """A shared server may be out of connections for a moment (other benchmarks): wait."""
    import asyncpg

    for attempt in range(tries):
        try:
            return await fn()
        except asyncpg.exceptions.TooManyConnectionsError:
            if attempt == tries - 1:
                raise
            await asyncio.sleep(3)
    raise AssertionError("unreachable")


async def _with_database(fn: Callable[[str], Awaitable[None]]) -> None:
    import asyncpg

    from kassa.core import migrate

    name = f"kassa_bench_payins_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = _db_url(name).replace("postgresql://", "postgresql+asyncpg://", 1)
        await asyncio.to_thread(migrate.upgrade, url)
        await fn(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=10_000)
    count = parser.parse_args().payments

    async def run(db_name: str) -> None:
        print(f"pay-ins benchmark: {count} payments, {CONCURRENCY} clients, {WORKERS} API workers")
        print(f"{'':34}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}")
        with tempfile.TemporaryDirectory() as tmp:
            cpu: dict[str, float] = {}
            elapsed, latencies, failures = await _kassa(db_name, count, Path(tmp), cpu)
        rate = count / elapsed
        p50, p99 = _pct(latencies, 0.50), _pct(latencies, 0.99)
        print(f"{'kassa POST /v1/payments':34}{rate:12.0f}{p50:10.1f}{p99:10.1f}", flush=True)
        bare_elapsed, bare_latencies, _ = await _bare(count)
        bare_rate = count / bare_elapsed
        print(
            f"{'bare ASGI endpoint (uvicorn)':34}{bare_rate:12.0f}"
            f"{_pct(bare_latencies, 0.5):10.1f}{_pct(bare_latencies, 0.99):10.1f}",
            flush=True,
        )
        insert_rate = await _retrying(lambda: _inserts(db_name, count))
        print(f"{'raw PostgreSQL INSERTs (asyncpg)':34}{insert_rate:12.0f}")
        print(f"failed requests: {failures}; mean latency {statistics.fmean(latencies):.1f} ms")
        print(
            f"CPU per payment: kassa API processes {1000 * cpu['server'] / count:.2f} ms, "
            f"PostgreSQL backends {1000 * cpu['postgres'] / count:.2f} ms "
            f"(a 2-core machine has 2,000 ms per second for all of it, this client included)"
        )
        print(
            f"ratios: {rate / bare_rate:.1%} of bare ASGI, {rate / insert_rate:.1%} of raw inserts"
        )
        verdict = [
            f"throughput {'ok' if rate >= 800 else 'BELOW'} (target >= 800/s)",
            f"p99 {'ok' if p99 <= 100 else 'ABOVE'} (target <= 100 ms)",
            f"share of inserts {'ok' if rate >= 0.25 * insert_rate else 'BELOW'} (target >= 25%)",
        ]
        print("targets: " + "; ".join(verdict))

    await _with_database(run)


if __name__ == "__main__":
    asyncio.run(main())
