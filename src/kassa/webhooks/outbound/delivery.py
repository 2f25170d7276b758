"""Delivering events: fan-out to matching endpoints, then one job per (event, endpoint) attempt.

Each attempt is a job with ``{"delivery_id", "trigger", "n"}``. The handler reads what it needs
and commits, POSTs outside any transaction, then records the attempt, the delivery's new state,
the endpoint's health and the next attempt's job in the job's own transaction, so the record
and the job's completion are one commit. A worker killed mid-POST loses its lease and another
worker runs the same job again: at least once, with the same ``webhook-id``.

Per endpoint and process at most ``max_in_flight`` POSTs run at once (one while the endpoint is
failing); a job over the limit is put back a moment later instead of holding a worker slot, so
a hanging endpoint cannot starve deliveries to the others.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import clock
from kassa.core.crypto import SecretBox
from kassa.jobs import JobContext, enqueue
from kassa.jobs.models import Event
from kassa.webhooks.outbound import health
from kassa.webhooks.outbound.catalog import PING
from kassa.webhooks.outbound.config import OutboundConfig
from kassa.webhooks.outbound.endpoints import iso, signing_secrets
from kassa.webhooks.outbound.models import (
    FAILED,
    PENDING,
    SUCCEEDED,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from kassa.webhooks.outbound.rows import attempt_row, delivery_row
from kassa.webhooks.outbound.schedule import delay_after_failure, parse_retry_after
from kassa.webhooks.outbound.sender import Outcome, Sender
from kassa.webhooks.outbound.signing import signed_headers

log = logging.getLogger("kassa.webhooks")

DELIVER_JOB = "webhooks.deliver"
FAN_OUT_JOB = "webhooks.fan_out"
SCHEDULED, MANUAL = "scheduled", "manual"
CATCH_UP_WINDOW = timedelta(days=14)

Target = tuple[Event, WebhookEndpoint]


def event_body(event: Event) -> bytes:
    """The payload of seed 002: id, type, created_at, livemode and the object in ``data``."""
    return orjson.dumps(
        {
            "id": event.id,
            "type": event.type,
            "created_at": iso(event.created_at),
            "livemode": event.livemode,
            "data": event.data,
        }
    )


def new_delivery(
    session: AsyncSession,
    event: Event,
    endpoint: WebhookEndpoint,
    *,
    next_attempt_at: datetime | None = None,
) -> WebhookDelivery:
    """A pending delivery whose first attempt is due at ``next_attempt_at`` (default: now)."""
    now = clock.now()
    row = delivery_row(event.id, endpoint, now=now, next_attempt_at=next_attempt_at or now)
    delivery = WebhookDelivery(**row)
    session.add(delivery)
    return delivery


def queue_attempt(
    session: AsyncSession,
    delivery_id: str,
    *,
    trigger: str,
    n: int,
    run_at: datetime | None = None,
    fail_on_error: bool = False,
) -> None:
    """One attempt as a job. ``n`` counts scheduled attempts; a manual attempt that fails marks
    the delivery failed when ``fail_on_error`` (nothing automatic is left to deliver it)."""
    args: dict[str, Any] = {"delivery_id": delivery_id, "trigger": trigger, "n": n}
    if fail_on_error:
        args["fail_on_error"] = True
    enqueue(session, DELIVER_JOB, args, run_at=run_at)


async def catch_up(
    session: AsyncSession, endpoint_id: str, *, since: datetime, now: datetime
) -> int:
    """An endpoint that works again gets, once more, the deliveries that gave up while it
    failed (at most 14 days back): a receiver down for a day still gets every event."""
    ids = list(
        (
            await session.scalars(
                select(WebhookDelivery.id).where(
                    WebhookDelivery.endpoint_id == endpoint_id,
                    WebhookDelivery.status == FAILED,
                    WebhookDelivery.updated_at >= max(since, now - CATCH_UP_WINDOW),
                )
            )
        ).all()
    )
    if ids:
        await resend_failed(session, ids, now=now)
        log.info("catching up an endpoint", extra={"endpoint_id": endpoint_id, "count": len(ids)})
    return len(ids)


async def resend_failed(session: AsyncSession, ids: list[str], *, now: datetime) -> None:
    """Failed deliveries pending again, each with one manual attempt queued now."""
    if not ids:
        return
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .values(status=PENDING, next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    for delivery_id in ids:
        queue_attempt(session, delivery_id, trigger=MANUAL, n=0, fail_on_error=True)


class Deliverer:
    """Runs delivery attempts; one per worker process (it owns the HTTP session)."""

    def __init__(
        self,
        config: OutboundConfig,
        box: SecretBox,
        *,
        wall_time: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.box = box
        self.sender = Sender(timeout=config.timeout, allow_private=config.allow_private)
        self.wall_time = (
            wall_time  # signature timestamps are wall-clock seconds, as receivers check
        )
        self.in_flight: Counter[str] = Counter()
        # How long a job over the endpoint's limit waits before it asks again: healthy, failing.
        self.defer_seconds = (0.5, 5.0)
        # How long a batch of fan-out jobs waits at most for its POSTs before the slow ones go
        # on as jobs of their own (fanout.py); it stops sooner when most answered quickly.
        self.straggler_seconds = 1.0

    async def close(self) -> None:
        await self.sender.close()

    # -- the two things every POST path shares: an in-flight slot, and its signature --------
    def try_take(self, endpoint: WebhookEndpoint) -> bool:
        """Take one of the endpoint's in-flight slots (one while it is failing), or say there
        is none free. Call it before any await, so the check and the take are one step."""
        limit = 1 if endpoint.failing_since is not None else self.config.max_in_flight
        if self.in_flight[endpoint.id] >= limit:
            return False
        self.in_flight[endpoint.id] += 1
        return True

    def release(self, endpoint_id: str) -> None:
        """Give back a slot ``try_take`` took, as soon as the endpoint answered."""
        self.in_flight[endpoint_id] -= 1
        if self.in_flight[endpoint_id] <= 0:
            del self.in_flight[endpoint_id]

    def sign(self, targets: Sequence[Target]) -> list[tuple[bytes, dict[str, str]]]:
        """Body and signed headers per (event, endpoint), for POSTs made now; each event's body
        is built and each endpoint's secrets are decrypted once, however often they recur."""
        now, timestamp = clock.now(), int(self.wall_time())
        bodies: dict[str, bytes] = {}
        secrets: dict[str, list[str]] = {}
        signed: list[tuple[bytes, dict[str, str]]] = []
        for event, endpoint in targets:
            body = bodies.get(event.id)
            if body is None:
                body = bodies[event.id] = event_body(event)
            keys = secrets.get(endpoint.id)
            if keys is None:
                keys = secrets[endpoint.id] = signing_secrets(endpoint, self.box, now)
            signed.append((body, signed_headers(keys, event.id, timestamp, body)))
        return signed

    async def handle(self, ctx: JobContext) -> None:
        session, args = ctx.session, ctx.args
        trigger, n = str(args.get("trigger", SCHEDULED)), int(args.get("n", 1))
        row = (
            await session.execute(
                select(WebhookDelivery, WebhookEndpoint, Event)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .join(Event, Event.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.id == args["delivery_id"])
            )
        ).one_or_none()
        if row is None:
            return
        delivery, endpoint, event = row
        if trigger == SCHEDULED and delivery.status != PENDING:
            return  # already delivered (by a replay) or given up: nothing to do
        if endpoint.deleted_at is not None or (not endpoint.enabled and event.type != PING):
            await self._give_up(session, delivery, "the endpoint is disabled or deleted")
            return
        if not self.try_take(endpoint):
            pause = self.defer_seconds[1 if endpoint.failing_since is not None else 0]
            later = clock.now() + timedelta(seconds=pause * random.uniform(0.5, 1.5))
            enqueue(session, DELIVER_JOB, dict(args), run_at=later)
            return
        try:
            [(body, headers)] = self.sign([(event, endpoint)])
            await session.commit()  # no transaction stays open during the HTTP request
            outcome = await self.sender.post(endpoint.url, headers, body)
        finally:
            self.release(endpoint.id)
        await self._record(
            session,
            delivery,
            endpoint,
            headers,
            outcome,
            trigger=trigger,
            n=n,
            fail_on_error=bool(args.get("fail_on_error")),
        )

    async def _give_up(self, session: AsyncSession, delivery: WebhookDelivery, why: str) -> None:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == PENDING)
            .values(status=FAILED, last_error=why, next_attempt_at=None, updated_at=clock.now())
            .execution_options(synchronize_session=False)
        )

    async def _record(
        self,
        session: AsyncSession,
        delivery: WebhookDelivery,
        endpoint: WebhookEndpoint,
        headers: dict[str, str],
        outcome: Outcome,
        *,
        trigger: str,
        n: int,
        fail_on_error: bool,
    ) -> None:
        now = clock.now()
        attempt = attempt_row(
            delivery.id, delivery.event_id, endpoint, headers, outcome, trigger=trigger, now=now
        )
        session.add(WebhookAttempt(**attempt))
        values = self.settle(
            session,
            delivery.id,
            outcome,
            trigger=trigger,
            n=n,
            fail_on_error=fail_on_error,
            now=now,
        )
        values["attempt_count"] = WebhookDelivery.attempt_count + 1
        where: list[Any] = [WebhookDelivery.id == delivery.id]
        if not outcome.ok:
            where.append(WebhookDelivery.status != SUCCEEDED)
        await self.update_health(session, endpoint, outcome, now)
        result = await session.execute(
            update(WebhookDelivery)
            .where(*where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if not outcome.ok and int(result.rowcount) == 0:  # type: ignore[attr-defined]
            # Delivered already (a failed replay, or a replay won): count the attempt, keep
            # the status; nothing more is queued for it.
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery.id)
                .values(
                    attempt_count=WebhookDelivery.attempt_count + 1,
                    next_attempt_at=None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )

    def settle(
        self,
        session: AsyncSession,
        delivery_id: str,
        outcome: Outcome,
        *,
        trigger: str,
        n: int,
        fail_on_error: bool,
        now: datetime,
    ) -> dict[str, Any]:
        """The delivery's new columns after an attempt; queues the next attempt if one is due."""
        values: dict[str, Any] = {
            "last_status_code": outcome.status,
            "last_error": outcome.error,
            "updated_at": now,
        }
        gone = outcome.status == 410
        if outcome.ok:
            values.update(status=SUCCEEDED, delivered_at=now, next_attempt_at=None)
        elif trigger == SCHEDULED:
            delay = None if gone else self._retry_delay(outcome, n, now)
            if delay is None:
                values.update(status=FAILED, next_attempt_at=None)
            else:
                values.update(next_attempt_at=now + delay)
                queue_attempt(session, delivery_id, trigger=SCHEDULED, n=n + 1, run_at=now + delay)
        elif gone or fail_on_error:
            values.update(status=FAILED, next_attempt_at=None)
        return values

    async def update_health(
        self, session: AsyncSession, endpoint: WebhookEndpoint, outcome: Outcome, now: datetime
    ) -> None:
        if outcome.ok:
            outage_began = await health.record_success(session, endpoint, now)
            if outage_began is not None:
                await catch_up(session, endpoint.id, since=outage_began, now=now)
        else:
            gone = outcome.status == 410
            await health.record_failure(session, endpoint, now, self.config, gone=gone)

    def _retry_delay(self, outcome: Outcome, n: int, now: datetime) -> timedelta | None:
        """The schedule's next delay, later if the receiver's Retry-After asks (capped)."""
        return delay_after_failure(
            self.config.schedule,
            n,
            retry_after=parse_retry_after(outcome.retry_after, now=now),
            retry_after_max=self.config.retry_after_max,
        )
