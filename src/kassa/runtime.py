"""Long-running processes: the worker process and the all-in-one supervisor behind `kassa run`."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from kassa import composition
from kassa.core.db import create_engine, session_factory
from kassa.core.settings import Settings
from kassa.jobs.worker import Worker

log = logging.getLogger("kassa.runtime")


async def run_worker(settings: Settings, *, concurrency: int | None = None) -> None:
    """Run one worker until SIGTERM/SIGINT, then shut down gracefully."""
    composition.build(settings)
    concurrency = concurrency or settings.worker_concurrency
    # One connection per running job plus claims and upkeep: a smaller pool makes jobs queue
    # for connections and churns overflow connections (measured: half the throughput). No
    # pre-ping: it is a round trip per job; a connection lost to a database restart fails
    # one claim or one attempt, which is retried, and SQLAlchemy then recycles the pool.
    pool_size = max(settings.database_pool_size, concurrency + 4)
    # A small overflow: N workers must fit in PostgreSQL's max_connections (100 by default).
    engine = create_engine(
        settings.effective_database_url, pool_size=pool_size, max_overflow=4, pre_ping=False
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(
        session_factory(engine),
        concurrency=concurrency,
        poll_interval=settings.worker_poll_interval,
        lease_seconds=settings.job_lease_seconds,
    )
    try:
        await worker.run(stop)
    finally:
        await engine.dispose()


class Supervisor:
    """Starts the API and worker processes, restarts one that dies, stops all on Ctrl-C."""

    MAX_RESTARTS_PER_MINUTE = 5

    def __init__(self, commands: dict[str, list[str]], env: dict[str, str]) -> None:
        self.commands = commands
        self.env = env
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts: dict[str, list[float]] = {name: [] for name in commands}
        self.stopping = False

    def _start(self, name: str) -> None:
        self.children[name] = subprocess.Popen(self.commands[name], env=self.env)  # noqa: S603

    def run(self, on_ready: Callable[[], None] | None = None) -> int:
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)
        for name in self.commands:
            self._start(name)
        if on_ready:
            on_ready()
        code = 0
        while not self.stopping:
            time.sleep(0.5)
            for name, child in list(self.children.items()):
                if child.poll() is None or self.stopping:
                    continue
                recent = [t for t in self.restarts[name] if time.monotonic() - t < 60]
                if len(recent) >= self.MAX_RESTARTS_PER_MINUTE:
                    log.error(
                        "%s keeps dying (exit %s); stopping everything", name, child.returncode
                    )
                    self.stopping, code = True, 1
                    break
                log.warning("%s exited with %s; restarting", name, child.returncode)
                self.restarts[name] = [*recent, time.monotonic()]
                self._start(name)
        self._terminate()
        return code

    def wait_until_answering(self, url: str, seconds: float = 90.0) -> bool:
        """Wait until ``url`` answers HTTP (any status), for at most ``seconds``; False when
        stopped first (Ctrl-C), a child exited meanwhile, or the time ran out."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stopping:
            if any(child.poll() is not None for child in self.children.values()):
                return False
            try:
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our loopback URL
                    return True
            except urllib.error.HTTPError:
                return True  # it answers (a 503 names what is unhealthy: /health shows it)
            except OSError:
                time.sleep(0.2)
        return False

    def _stop(self, _signum: int, _frame: object) -> None:
        self.stopping = True

    def _terminate(self, grace: float = 35.0) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()


def child_commands() -> dict[str, list[str]]:
    """One API process and one worker (on SQLite, one writer makes more workers pointless)."""
    python = sys.executable
    return {"api": [python, "-m", "kassa", "serve"], "worker": [python, "-m", "kassa", "worker"]}
