"""What the benchmarks share: databases, processes, the HTTP load generator, percentiles.

The scripts in bench/ run as ``python bench/<name>.py``, so this folder is on ``sys.path`` and
they import this module as ``benchlib``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ADMIN_URL = os.environ.get(
    "KASSA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SECRET_KEY = "bench-" + "x" * 40


def db_url(name: str, driver: str = "postgresql") -> str:
    return (ADMIN_URL.rsplit("/", 1)[0] + f"/{name}").replace("postgresql", driver, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kassa_env(**settings: str) -> dict[str, str]:
    """This environment without any KASSA_/PAYMENT_ setting, plus ``settings`` (as
    ``KASSA_<NAME>``) and the bench's secret key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KASSA_", "PAYMENT_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    env["KASSA_SECRET_KEY"] = SECRET_KEY
    env.update({f"KASSA_{name.upper()}": value for name, value in settings.items()})
    return env


def with_bench_modules(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a process that imports this folder's modules (a ceiling) by their names."""
    return {**env, "PYTHONPATH": os.pathsep.join([str(BENCH), env.get("PYTHONPATH", "")])}


def migrate(url: str) -> None:
    """``kassa migrate`` against ``url``, as an operator would run it."""
    env = kassa_env(database_url=url, log_level="WARNING")
    subprocess.run(
        [sys.executable, "-m", "kassa", "migrate"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


@asynccontextmanager
async def fresh_database(prefix: str) -> AsyncIterator[str]:
    """A new, migrated database on the bench server (its name), dropped afterwards."""
    import asyncpg

    name = f"{prefix}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(migrate, db_url(name))
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def wait_up(url: str, proc: subprocess.Popen[bytes], tries: int = 600) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(tries):
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


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 20) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_seconds(match: Callable[[int, bytes, int], bool]) -> float:
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


def tree_cpu(root_pid: int) -> float:
    """CPU of a process and its children (uvicorn's workers, a supervisor's processes)."""
    return cpu_seconds(lambda pid, _, ppid: root_pid in (pid, ppid))


def postgres_cpu(db_name: str) -> float:
    """The backends serving ``db_name`` (0 when PostgreSQL runs on another machine)."""
    tag = f" {db_name} ".encode()
    return cpu_seconds(lambda _, cmd, __: cmd.startswith(b"postgres:") and tag in cmd)


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class Load:
    seconds: float
    latencies_ms: list[float]
    failures: int  # answers other than the expected status, and requests that raised
    statuses: dict[str, int]  # what the failures were, e.g. {"409": 3, "ClientOSError": 1}

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


async def post_load(
    url: str,
    count: int,
    headers: Callable[[int], dict[str, str]],
    *,
    concurrency: int,
    body: dict[str, Any],
    expect: tuple[int, ...] = (201,),
) -> Load:
    """POST ``body`` ``count`` times from ``concurrency`` clients, each waiting for its answer
    before sending the next (a closed loop, like wrk)."""
    latencies: list[float] = []
    failed: dict[str, int] = {}
    next_index = 0
    payload = json.dumps(body).encode()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def client() -> None:
            nonlocal next_index
            while next_index < count:
                i = next_index
                next_index += 1
                started = time.perf_counter()
                try:
                    async with http.post(url, data=payload, headers=headers(i)) as response:
                        await response.read()
                        if response.status not in expect:
                            failed[str(response.status)] = failed.get(str(response.status), 0) + 1
                except (aiohttp.ClientError, OSError) as exc:
                    failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Load(elapsed, latencies, sum(failed.values()), failed)


async def retrying(fn: Callable[[], Awaitable[float]], tries: int = 10) -> float:
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
