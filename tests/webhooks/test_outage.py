"""At least once: a receiver down for a day gets everything; a killed worker loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from kassa.core import clock
from kassa.webhooks.outbound.models import WebhookDelivery
from tests.conftest import Backend
from tests.factories import Merchant
from tests.webhooks.conftest import create_endpoint, make_outbound
from tests.webhooks.helpers import deliveries
from tests.webhooks.receiver import Receiver, free_port


async def test_a_receiver_down_for_a_day_gets_every_event_once_back(
    api: httpx.AsyncClient, db: Backend, tmp_path: Path, acme: Merchant
) -> None:
    frozen = clock.FrozenClock(clock.SystemClock().now())
    clock.install(frozen)
    port = free_port()
    created = await create_endpoint(api, acme, f"http://127.0.0.1:{port}/hook")
    # the default schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
    outbound = await make_outbound(db, tmp_path, webhook_retry_schedule="0,5s,5m,30m,2h,5h,10h,10h")
    ids = [await outbound.emit(acme, {"n": i}) for i in range(5)]
    back = Receiver(port=port)
    try:
        for minutes in range(0, 36 * 60, 5):  # 36 hours in steps of 5 minutes
            if minutes == 24 * 60:
                await back.start()  # down for a day, then back
            await outbound.drain()
            frozen.advance(timedelta(minutes=5))
    finally:
        await back.stop()
        await outbound.deliverer.close()
    assert {r.headers["webhook-id"] for r in back.at("hook")} == set(ids)
    assert {d.status for d in await deliveries(db, created["id"])} == {"succeeded"}


def _worker(db: Backend, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    env.update(
        KASSA_DATABASE_URL=db.url,
        KASSA_SECRET_KEY="test-secret-" + "x" * 40,  # as Backend.settings() has it
        KASSA_VAR_DIR=str(tmp_path),
        KASSA_WEBHOOK_ALLOW_PRIVATE="true",
        KASSA_JOB_LEASE_SECONDS="5",
        KASSA_WORKER_POLL_INTERVAL="0.1",
        KASSA_LOG_LEVEL="WARNING",
    )
    return subprocess.Popen([sys.executable, "-m", "kassa", "worker"], env=env, cwd=tmp_path)


async def _arrivals(receiver: Receiver, count: int) -> None:
    async with asyncio.timeout(60):
        while len(receiver.received) < count:
            receiver.arrived.clear()
            await receiver.arrived.wait()


@pytest.mark.slow
async def test_a_worker_killed_mid_delivery_loses_nothing(
    api: httpx.AsyncClient, db: Backend, tmp_path: Path, receiver: Receiver, acme: Merchant
) -> None:
    receiver.hang("hook")  # the first request never gets an answer
    created = await create_endpoint(api, acme, receiver.url())
    outbound = await make_outbound(db, tmp_path)
    event_id = await outbound.emit(acme)
    first = _worker(db, tmp_path)
    try:
        await _arrivals(receiver, 1)
        first.send_signal(signal.SIGKILL)  # mid-delivery: the POST is in flight
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    receiver.behave("hook", lambda _: _ok())  # back to answering 200
    second = _worker(db, tmp_path)
    try:
        await _arrivals(receiver, 2)  # after the 5 s lease runs out
        async with asyncio.timeout(30):
            while True:
                async with db.sessions() as session:
                    status = await session.scalar(
                        select(WebhookDelivery.status).where(
                            WebhookDelivery.endpoint_id == created["id"]
                        )
                    )
                if status == "succeeded":
                    break
                await asyncio.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
        await outbound.deliverer.close()
    assert [r.headers["webhook-id"] for r in receiver.at("hook")] == [event_id, event_id]


async def _ok() -> object:
    from aiohttp import web

    return web.Response(text="ok")
