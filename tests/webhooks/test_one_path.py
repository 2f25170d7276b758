"""A first attempt made inline by the fan-out and one made by an attempt job of its own are
signed, sent and recorded alike: the merchant's delivery log does not show which path ran."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import standardwebhooks
from sqlalchemy import update

from kassa.core import clock
from kassa.core.db import transaction
from kassa.webhooks.outbound.delivery import DELIVER_JOB
from kassa.webhooks.outbound.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.factories import Merchant
from tests.jobs.conftest import count_jobs
from tests.webhooks.conftest import Outbound, create_endpoint
from tests.webhooks.helpers import attempts, deliveries
from tests.webhooks.receiver import Receiver

# What the delivery log shows of a delivery and an attempt, apart from ids and times.
DELIVERY = ("status", "attempt_count", "next_attempt_at", "last_status_code", "last_error")
ATTEMPT = ("trigger", "response_status", "response_body", "error", "succeeded")


def _delivery(d: WebhookDelivery) -> dict[str, Any]:
    shown = {name: getattr(d, name) for name in DELIVERY}
    return {**shown, "delivered": d.delivered_at is not None, "account_id": d.account_id}


def _attempt(a: WebhookAttempt, endpoint_id: str) -> dict[str, Any]:
    shown = {name: getattr(a, name) for name in ATTEMPT}
    return {**shown, "endpoint": a.endpoint_id == endpoint_id, "headers": sorted(a.request_headers)}


async def test_the_fan_out_and_an_attempt_job_sign_send_and_record_a_delivery_alike(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    inline = await create_endpoint(api, acme, receiver.url("inline"))
    alone = await create_endpoint(api, acme, receiver.url("alone"))
    # A failing endpoint's first attempt is a webhooks.deliver job, not part of the fan-out.
    async with transaction(outbound.db.sessions) as session:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == alone["id"])
            .values(failing_since=clock.now() - timedelta(minutes=5))
        )
    event_id = await outbound.emit(acme, {"thing": "th_7"})
    await outbound.drain()
    assert await count_jobs(outbound.db, DELIVER_JOB) == 1  # the failing endpoint's, only

    [sent_inline], [sent_alone] = receiver.at("inline"), receiver.at("alone")
    assert sent_inline.body == sent_alone.body
    for sent, endpoint in ((sent_inline, inline), (sent_alone, alone)):
        headers = {k.lower(): v for k, v in sent.headers.items()}
        verified = standardwebhooks.Webhook(endpoint["secret"]).verify(sent.body, headers)
        assert verified["id"] == event_id
    assert {k.lower() for k in sent_inline.headers} == {k.lower() for k in sent_alone.headers}

    [by_fan_out] = await deliveries(outbound.db, inline["id"])
    [by_job] = await deliveries(outbound.db, alone["id"])
    assert by_fan_out.event_id == by_job.event_id == event_id
    assert _delivery(by_fan_out) == _delivery(by_job)
    assert _delivery(by_job)["status"] == "succeeded"
    [first] = await attempts(outbound.db, by_fan_out.id)
    [second] = await attempts(outbound.db, by_job.id)
    assert (first.url, second.url) == (inline["url"], alone["url"])
    assert _attempt(first, inline["id"]) == _attempt(second, alone["id"])
    # Every in-flight slot either path took was given back.
    assert outbound.deliverer.in_flight == {}
