"""Delivery: retries on every failure kind, Retry-After, 410, the attempt log, isolation."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from kassa.core import clock
from kassa.webhooks.outbound.delivery import DELIVER_JOB
from tests.conftest import Backend
from tests.factories import Merchant
from tests.webhooks.conftest import Outbound, create_endpoint, make_outbound
from tests.webhooks.helpers import attempts, deliveries, endpoint, queued_jobs
from tests.webhooks.receiver import Receiver, close_connection, free_port, status


async def test_retries_until_success_and_records_every_attempt(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    answers = iter([500, 503, 200])

    async def flaky(_: object) -> object:
        from aiohttp import web

        return web.Response(status=next(answers), text="x" * 10_000)

    receiver.behave("hook", flaky)  # type: ignore[arg-type]
    created = await create_endpoint(api, acme, receiver.url())
    event_id = await outbound.emit(acme)
    await outbound.drain()

    got = receiver.at("hook")
    assert len(got) == 3
    assert {r.headers["webhook-id"] for r in got} == {event_id}  # stable across retries
    [delivery] = await deliveries(outbound.db, created["id"])
    assert delivery.status == "succeeded" and delivery.attempt_count == 3
    assert delivery.last_status_code == 200 and delivery.delivered_at is not None
    log = await attempts(outbound.db, delivery.id)
    assert [a.response_status for a in log] == [500, 503, 200]
    assert [a.succeeded for a in log] == [False, False, True]
    assert log[0].error == "HTTP 500" and log[2].error is None
    assert all(len(a.response_body or "") == 4096 for a in log)  # first 4 KiB only
    assert log[0].request_headers["webhook-id"] == event_id
    assert log[0].request_headers["webhook-signature"].startswith("v1,")
    assert all(a.duration_ms >= 0 and a.trigger == "scheduled" for a in log)


@pytest.mark.parametrize("kind", ["500", "timeout", "refused", "closed", "redirect"])
async def test_each_failure_kind_is_retried_then_given_up(
    api: httpx.AsyncClient,
    db: Backend,
    tmp_path: Path,
    receiver: Receiver,
    acme: Merchant,
    kind: str,
) -> None:
    outbound = await make_outbound(db, tmp_path, webhook_timeout_seconds=0.3)
    url = receiver.url(kind)
    if kind == "500":
        receiver.behave(kind, status(500, body="boom"))
    elif kind == "timeout":
        receiver.hang(kind)
    elif kind == "refused":
        url = f"http://127.0.0.1:{free_port()}/nobody"
    elif kind == "closed":
        receiver.behave(kind, close_connection())
    else:
        receiver.behave(kind, status(302, headers={"Location": receiver.url("elsewhere")}))
    created = await create_endpoint(api, acme, url)
    await outbound.emit(acme)
    try:
        await outbound.drain()
    finally:
        await outbound.deliverer.close()

    [delivery] = await deliveries(db, created["id"])
    assert delivery.status == "failed"
    log = await attempts(db, delivery.id)
    assert len(log) == 4  # the schedule "0,0,0,0" has four attempts
    assert not any(a.succeeded for a in log)
    expected = {
        "500": "HTTP 500",
        "timeout": "timed out after 0.3 s",
        "refused": "connection failed",
        "closed": "closed the connection",
        "redirect": "redirect not followed",
    }[kind]
    assert all(expected in (a.error or "") for a in log), [a.error for a in log]
    assert receiver.at("elsewhere") == []  # redirects are never followed
    assert await queued_jobs(db, DELIVER_JOB) == []


async def test_retry_after_only_delays_an_attempt_within_bounds(
    api: httpx.AsyncClient, db: Backend, tmp_path: Path, receiver: Receiver, acme: Merchant
) -> None:
    """Retry-After pushes the next attempt later (up to the cap), never earlier."""
    outbound = await make_outbound(
        db,
        tmp_path,
        webhook_retry_schedule="0,1m,1m",
        webhook_retry_after_max_seconds=600,
    )
    receiver.behave("soon", status(503, headers={"Retry-After": "2"}))
    receiver.behave("later", status(503, headers={"Retry-After": "120"}))
    receiver.behave("never", status(429, headers={"Retry-After": "86400"}))
    soon = await create_endpoint(api, acme, receiver.url("soon"))
    later = await create_endpoint(api, acme, receiver.url("later"))
    never = await create_endpoint(api, acme, receiver.url("never"))
    before = clock.now()
    await outbound.emit(acme)
    await outbound.drain()
    await outbound.deliverer.close()
    after = clock.now()

    [d_soon] = await deliveries(db, soon["id"])
    [d_later] = await deliveries(db, later["id"])
    [d_never] = await deliveries(db, never["id"])
    assert d_soon.status == d_later.status == d_never.status == "pending"
    assert d_soon.next_attempt_at and d_later.next_attempt_at and d_never.next_attempt_at
    # 2 s asked, 1 min (±20 %) scheduled: the schedule holds
    assert before + timedelta(seconds=48) <= d_soon.next_attempt_at
    assert d_soon.next_attempt_at <= after + timedelta(seconds=72)
    # 120 s asked, longer than the schedule: honoured
    assert before + timedelta(seconds=120) <= d_later.next_attempt_at
    assert d_later.next_attempt_at <= after + timedelta(seconds=120)
    # capped at KASSA_WEBHOOK_RETRY_AFTER_MAX_SECONDS, not a day
    assert before + timedelta(seconds=600) <= d_never.next_attempt_at
    assert d_never.next_attempt_at <= after + timedelta(seconds=600)
    jobs = await queued_jobs(db, DELIVER_JOB)
    assert sorted(j.args["n"] for j in jobs) == [2, 2, 2]


async def test_410_gone_disables_the_endpoint(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    receiver.behave("gone", status(410))
    gone = await create_endpoint(api, acme, receiver.url("gone"))
    await create_endpoint(api, acme, receiver.url("other"))
    await outbound.emit(acme)
    await outbound.drain()

    assert len(receiver.at("gone")) == 1  # no retries after 410
    state = await endpoint(outbound.db, gone["id"])
    assert state.enabled is False and state.disabled_reason == "gone"
    # the merchant's other endpoint hears about it; the gone one does not
    types = [json.loads(r.body)["type"] for r in receiver.at("other")]
    assert "webhook_endpoint.disabled" in types
    shown = await api.get(f"/v1/webhook_endpoints/{gone['id']}", headers=acme.auth)
    assert shown.json()["enabled"] is False and shown.json()["disabled_reason"] == "gone"
    # a disabled endpoint gets nothing more
    await outbound.emit(acme)
    await outbound.drain()
    assert len(receiver.at("gone")) == 1


async def test_filters_livemode_and_accounts_decide_who_gets_what(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant, db: Backend
) -> None:
    from tests.factories import merchant

    globex = await merchant(db.sessions, "Globex")
    await create_endpoint(api, acme, receiver.url("all"))
    await create_endpoint(api, acme, receiver.url("tests"), enabled_events=["test.*"])
    await create_endpoint(
        api, acme, receiver.url("endpoints"), enabled_events=["webhook_endpoint.*"]
    )
    await create_endpoint(api, globex, receiver.url("globex"))
    await outbound.emit(acme)
    await outbound.drain()
    assert len(receiver.at("all")) == len(receiver.at("tests")) == 1
    assert receiver.at("endpoints") == [] and receiver.at("globex") == []


async def test_a_hanging_endpoint_does_not_block_the_others(
    api: httpx.AsyncClient, db: Backend, tmp_path: Path, receiver: Receiver, acme: Merchant
) -> None:
    outbound = await make_outbound(
        db, tmp_path, webhook_timeout_seconds=60, webhook_max_in_flight_per_endpoint=3
    )
    receiver.hang("stuck")
    await create_endpoint(api, acme, receiver.url("stuck"))
    await create_endpoint(api, acme, receiver.url("fine"))
    for _ in range(20):
        await outbound.emit(acme)
    stop = asyncio.Event()
    outbound.worker.poll_interval = 0.05
    running = asyncio.create_task(outbound.worker.run(stop))
    try:
        async with asyncio.timeout(30):
            while len(receiver.at("fine")) < 20:
                receiver.arrived.clear()
                await receiver.arrived.wait()
        # only max_in_flight requests are held by the stuck endpoint
        assert len(receiver.at("stuck")) == 3
    finally:
        receiver.release.set()
        stop.set()
        await running
        await outbound.deliverer.close()


async def test_a_busy_healthy_endpoint_still_gets_every_delivery_and_attempt_recorded(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    created = await create_endpoint(api, acme, receiver.url())
    ids = []
    for batch in range(3):  # after the first success, the fast path records the rest
        ids += [await outbound.emit(acme, {"n": batch * 10 + i}) for i in range(10)]
        await outbound.drain()
    assert sorted(r.headers["webhook-id"] for r in receiver.at("hook")) == sorted(ids)
    found = await deliveries(outbound.db, created["id"])
    assert sorted(d.event_id for d in found) == sorted(ids)
    assert {(d.status, d.attempt_count) for d in found} == {("succeeded", 1)}
    log = await attempts(outbound.db)
    assert sorted(a.delivery_id for a in log) == sorted(d.id for d in found)
    assert all(a.succeeded and a.response_status == 200 for a in log)
    assert await queued_jobs(outbound.db, DELIVER_JOB) == []
