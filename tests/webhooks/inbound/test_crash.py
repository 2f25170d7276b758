"""A real ``kassa serve`` killed (SIGKILL) while deliveries are in flight: every delivery it
had answered 2xx is in the database with its job; the ones cut off were never acknowledged,
so the provider sends them again."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from kassa.jobs.models import Job
from kassa.webhooks.inbound.models import InboundEvent
from tests.conftest import Backend
from tests.helpers import ROOT, free_port, kassa_env
from tests.webhooks.inbound.signing import STRIPE_SECRET, stripe_event, stripe_header


async def test_every_acknowledged_event_survives_a_kill(db: Backend, tmp_path: Path) -> None:
    if db.name != "postgresql":
        pytest.skip("a server start is slow: once, on the driver path production runs")
    port = free_port()
    env = kassa_env(
        KASSA_DATABASE_URL=db.url,
        KASSA_PORT=str(port),
        KASSA_VAR_DIR=str(tmp_path),
        KASSA_SECRET_KEY="crash-test-" + "x" * 40,
        KASSA_LOG_LEVEL="WARNING",
        KASSA_STRIPE_SECRET_KEY="sk_test_crash",
        KASSA_STRIPE_WEBHOOK_SECRET=STRIPE_SECRET,
    )
    proc = subprocess.Popen([sys.executable, "-m", "kassa", "serve"], env=env, cwd=ROOT)  # noqa: ASYNC220
    acknowledged: list[str] = []
    url = f"http://127.0.0.1:{port}/webhooks/stripe"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):  # up within 30 s
                try:
                    async with http.get(f"http://127.0.0.1:{port}/health") as up:
                        if up.status < 500:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)

            async def sender(n: int) -> None:
                for i in range(10_000):
                    event_id = f"evt_crash_{n}_{i}"
                    body = stripe_event(event_id)
                    headers = {"Stripe-Signature": stripe_header(body)}
                    try:
                        async with http.post(url, data=body, headers=headers) as response:
                            if response.status == 200:
                                acknowledged.append(event_id)
                    except (aiohttp.ClientError, OSError):
                        return  # the server is gone

            senders = [asyncio.create_task(sender(n)) for n in range(16)]
            while len(acknowledged) < 200:
                await asyncio.sleep(0.01)
                assert proc.poll() is None
            proc.send_signal(signal.SIGKILL)  # no shutdown: whatever was not committed is lost
            await asyncio.wait_for(asyncio.gather(*senders), 10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    async with db.sessions() as session:
        stored = set(
            (
                await session.scalars(
                    select(InboundEvent.event_id).where(InboundEvent.event_id.in_(acknowledged))
                )
            ).all()
        )
        jobs = await session.scalar(select(func.count()).select_from(Job))
    assert len(acknowledged) >= 200
    assert stored == set(acknowledged)
    assert (jobs or 0) >= len(acknowledged)
