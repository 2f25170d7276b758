"""Fan-out: an event becomes one delivery per matching endpoint, and the first attempts are
made right here.

Every ``emit()`` runs the ``webhooks.fan_out`` job (subscribed to ``*``). For each enabled
endpoint of the event's account and mode whose filter matches, it creates a delivery. The first
attempt to a healthy endpoint (not failing, under its in-flight limit, schedule starting at 0)
is POSTed by this job itself, concurrently for all such endpoints, and recorded with its
delivery in one transaction that also finishes the job: one job and two transactions per
event instead of two jobs and four, which is what makes ~1,000 deliveries/s reachable. Every
other attempt (retries, failing or busy endpoints, replays) is its own ``webhooks.deliver`` job
per (event, endpoint).

At least once: if the worker dies after POSTing but before that transaction commits, the job
runs again and POSTs again (same ``webhook-id``). A hanging endpoint holds at most its
in-flight limit of these jobs, and only until its timeout; after that it is failing and every
attempt to it is a job of its own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import clock
from kassa.core.db import is_postgres
from kassa.core.ids import new_id
from kassa.jobs import JobContext
from kassa.jobs.models import Event
from kassa.webhooks.outbound.catalog import ABOUT_AN_ENDPOINT, PING, matches
from kassa.webhooks.outbound.config import OutboundConfig
from kassa.webhooks.outbound.delivery import (
    SCHEDULED,
    Deliverer,
    event_body,
    new_delivery,
    queue_attempt,
)
from kassa.webhooks.outbound.endpoints import signing_secrets
from kassa.webhooks.outbound.models import (
    PENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from kassa.webhooks.outbound.schedule import jittered
from kassa.webhooks.outbound.sender import Outcome
from kassa.webhooks.outbound.signing import signed_headers


async def _targets(
    session: AsyncSession, event_id: str
) -> tuple[Event | None, list[WebhookEndpoint]]:
    """The event and the endpoints it goes to, in one query."""
    rows = (
        await session.execute(
            select(Event, WebhookEndpoint)
            .outerjoin(
                WebhookEndpoint,
                and_(
                    WebhookEndpoint.account_id == Event.account_id,
                    WebhookEndpoint.livemode == Event.livemode,
                    WebhookEndpoint.enabled.is_(True),
                    WebhookEndpoint.deleted_at.is_(None),
                ),
            )
            .where(Event.id == event_id)
        )
    ).all()
    if not rows:
        return None, []
    event = rows[0][0]
    if event.account_id is None or event.type == PING:
        return event, []
    about = event.data.get("id") if event.type in ABOUT_AN_ENDPOINT else None
    found = [
        e
        for _, e in rows
        if e is not None and e.id != about and matches(e.enabled_events, event.type)
    ]
    return event, found


def _queue_first_attempts(
    session: AsyncSession, event: Event, endpoints: list[WebhookEndpoint], config: OutboundConfig
) -> None:
    for endpoint in endpoints:
        first = clock.now() + jittered(config.schedule[0])
        delivery = new_delivery(session, event, endpoint)
        delivery.next_attempt_at = first
        queue_attempt(session, delivery.id, trigger=SCHEDULED, n=1, run_at=first)


def _release(in_flight: Counter[str], endpoint_id: str) -> None:
    in_flight[endpoint_id] -= 1
    if in_flight[endpoint_id] <= 0:
        del in_flight[endpoint_id]


async def fan_out(deliverer: Deliverer, ctx: JobContext) -> None:
    session = ctx.session
    if is_postgres(session):
        # Reads need no transaction: saves the BEGIN and COMMIT round trips on the hot path.
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    event, targets = await _targets(session, ctx.args["event_id"])
    if event is None or not targets:
        return
    if ctx.attempt > 1:  # a run before this one may have created some deliveries already
        done = set(
            (
                await session.scalars(
                    select(WebhookDelivery.endpoint_id).where(WebhookDelivery.event_id == event.id)
                )
            ).all()
        )
        targets = [e for e in targets if e.id not in done]
    config, in_flight = deliverer.config, deliverer.in_flight
    now_first = config.schedule[0] == timedelta(0)
    inline: list[WebhookEndpoint] = []
    later: list[WebhookEndpoint] = []
    for endpoint in targets:
        if (
            now_first
            and endpoint.failing_since is None
            and in_flight[endpoint.id] < config.max_in_flight
        ):
            in_flight[endpoint.id] += 1  # taken before any await
            inline.append(endpoint)
        else:
            later.append(endpoint)
    if not inline:
        await session.commit()  # end the read; the writes below are one transaction
        _queue_first_attempts(session, event, later, config)
        return
    body = event_body(event)
    now, timestamp = clock.now(), int(deliverer.wall_time())
    headers = {}
    try:
        for e in inline:
            headers[e.id] = signed_headers(
                signing_secrets(e, deliverer.box, now), event.id, timestamp, body
            )
        await session.commit()  # no transaction stays open during the HTTP requests
    except BaseException:
        for e in inline:
            _release(in_flight, e.id)
        raise

    async def post(endpoint: WebhookEndpoint) -> Outcome:
        try:
            return await deliverer.sender.post(endpoint.url, headers[endpoint.id], body)
        finally:  # as soon as this endpoint answers, not when the slowest one does
            _release(in_flight, endpoint.id)

    outcomes = await asyncio.gather(*(post(e) for e in inline))
    _queue_first_attempts(session, event, later, config)
    now = clock.now()
    # Core INSERTs, deliveries before attempts: the hot path, without unit-of-work overhead.
    deliveries: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    for endpoint, outcome in zip(inline, outcomes, strict=True):
        delivery_id = new_id("whd")
        values = deliverer.settle(
            session, delivery_id, outcome, trigger=SCHEDULED, n=1, fail_on_error=False, now=now
        )
        deliveries.append(
            {
                "id": delivery_id,
                "event_id": event.id,
                "endpoint_id": endpoint.id,
                "account_id": endpoint.account_id,
                "status": PENDING,
                "attempt_count": 1,
                "next_attempt_at": None,
                "delivered_at": None,
                "created_at": now,
                **values,
            }
        )
        attempts.append(
            {
                "id": new_id("wha"),
                "delivery_id": delivery_id,
                "endpoint_id": endpoint.id,
                "event_id": event.id,
                "trigger": SCHEDULED,
                "url": endpoint.url,
                "request_headers": headers[endpoint.id],
                "response_status": outcome.status,
                "response_body": outcome.body,
                "duration_ms": outcome.duration_ms,
                "error": outcome.error,
                "succeeded": outcome.ok,
                "created_at": now,
            }
        )
    await session.execute(insert(WebhookDelivery), deliveries)
    await session.execute(insert(WebhookAttempt), attempts)
    for endpoint, outcome in zip(inline, outcomes, strict=True):
        await deliverer.update_health(session, endpoint, outcome, now)
