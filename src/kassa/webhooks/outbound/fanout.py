"""Fan-out: an event becomes one delivery per matching endpoint, and the first attempts are
made right here.

Every ``emit()`` runs the ``webhooks.fan_out`` job (subscribed to ``*``). For each enabled
endpoint of the event's account and mode whose filter matches, it creates a delivery. The first
attempt to a healthy endpoint (not failing, under its in-flight limit, schedule starting at 0)
is POSTed by this job itself, concurrently for all such endpoints, and recorded with its
delivery in one transaction that also finishes the job. Every other attempt (retries, failing
or busy endpoints, replays) is its own ``webhooks.deliver`` job per (event, endpoint).

The worker hands first attempts of fan-out jobs over in batches (``fan_out_batch``): one query
reads all their events and endpoints, all POSTs run at once, and one executemany INSERT each
(one prepared statement for every row; multi-row VALUES measured no faster, decision 0004)
records deliveries and attempts, in the transaction that finishes the jobs. That is about six
statements per batch instead of six per event (docs/decisions/0004-batch-jobs.md).

At least once: if the worker dies after POSTing but before that transaction commits, the job
runs again and POSTs again (same ``webhook-id``). A hanging endpoint holds at most its
in-flight limit of these jobs, and only until its timeout; after that it is failing and every
attempt to it is a job of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, and_, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import clock
from kassa.core.db import is_postgres
from kassa.jobs import JobContext
from kassa.jobs.models import Event
from kassa.jobs.registry import BatchContext, Handler
from kassa.webhooks.outbound.catalog import ABOUT_AN_ENDPOINT, PING, matches
from kassa.webhooks.outbound.config import OutboundConfig
from kassa.webhooks.outbound.delivery import (
    SCHEDULED,
    Deliverer,
    Target,
    new_delivery,
    queue_attempt,
)
from kassa.webhooks.outbound.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from kassa.webhooks.outbound.rows import attempt_row, delivery_row
from kassa.webhooks.outbound.schedule import jittered
from kassa.webhooks.outbound.sender import Outcome

_deliveries: Table = WebhookDelivery.__table__  # type: ignore[assignment]
_attempts: Table = WebhookAttempt.__table__  # type: ignore[assignment]
_INSERT_DELIVERIES, _INSERT_ATTEMPTS = insert(_deliveries), insert(_attempts)


async def _load(
    session: AsyncSession, event_ids: list[str]
) -> tuple[dict[str, Event], dict[str, list[WebhookEndpoint]]]:
    """The events and, for each, the endpoints it goes to, in one query."""
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
            .where(Event.id.in_(event_ids))
        )
    ).all()
    events: dict[str, Event] = {}
    targets: dict[str, list[WebhookEndpoint]] = {}
    for event, endpoint in rows:
        events[event.id] = event
        found = targets.setdefault(event.id, [])
        if event.account_id is None or event.type == PING or endpoint is None:
            continue
        about = event.data.get("id") if event.type in ABOUT_AN_ENDPOINT else None
        if endpoint.id != about and matches(endpoint.enabled_events, event.type):
            found.append(endpoint)
    return events, targets


async def _already_delivered(session: AsyncSession, event_ids: list[str]) -> set[tuple[str, str]]:
    """(event, endpoint) pairs an earlier run of the same job created deliveries for."""
    if not event_ids:
        return set()
    rows = await session.execute(
        select(WebhookDelivery.event_id, WebhookDelivery.endpoint_id).where(
            WebhookDelivery.event_id.in_(event_ids)
        )
    )
    return {(r[0], r[1]) for r in rows}


def _queue_first_attempts(
    session: AsyncSession, later: list[Target], config: OutboundConfig
) -> None:
    for event, endpoint in later:
        first = clock.now() + jittered(config.schedule[0])
        delivery = new_delivery(session, event, endpoint, next_attempt_at=first)
        queue_attempt(session, delivery.id, trigger=SCHEDULED, n=1, run_at=first)


@dataclass
class _Post:
    """One inline first attempt: what is sent, and the request in flight."""

    event: Event
    endpoint: WebhookEndpoint
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    task: asyncio.Task[Outcome] | None = None

    def outcome(self) -> Outcome:
        assert self.task is not None
        return self.task.result()


async def fan_out(deliverer: Deliverer, ctx: JobContext) -> None:
    jobs = [(ctx.id, ctx.args["event_id"], ctx.attempt)]
    await _fan_out(deliverer, ctx.session, jobs, wait_at_most=None)


async def fan_out_batch(deliverer: Deliverer, ctx: BatchContext) -> dict[str, Handler]:
    jobs = [(j.id, j.args["event_id"], j.attempt) for j in ctx.jobs]
    return await _fan_out(deliverer, ctx.session, jobs, wait_at_most=deliverer.straggler_seconds)


async def _fan_out(
    deliverer: Deliverer,
    session: AsyncSession,
    jobs: list[tuple[str, str, int]],
    *,
    wait_at_most: float | None,
) -> dict[str, Handler]:
    """Fan out the events of ``jobs`` ((job id, event id, attempt) each) in ``session``.

    Jobs whose POSTs are still running after ``wait_at_most`` seconds are returned, each with a
    handler that waits for them and records them as a job of its own: a slow receiver holds
    only its own jobs, never the batch (and the worker slots of everyone else's deliveries)."""
    if is_postgres(session):
        # Reads need no transaction: saves the BEGIN and COMMIT round trips on the hot path.
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    events, targets = await _load(session, [event_id for _, event_id, _ in jobs])
    # A run before this one may have created some deliveries already.
    done = await _already_delivered(session, [e for _, e, attempt in jobs if attempt > 1])
    config = deliverer.config
    now_first = config.schedule[0] == timedelta(0)
    inline: dict[str, list[_Post]] = {}
    later: dict[str, list[Target]] = {}
    for job_id, event_id, _ in jobs:
        event = events.get(event_id)
        if event is None:  # gone (never committed, or deleted): nothing to deliver
            continue
        for endpoint in targets.get(event_id, []):
            if (event_id, endpoint.id) in done:
                continue
            # A failing endpoint's attempts are jobs of their own; a slot is taken before any await.
            if now_first and endpoint.failing_since is None and deliverer.try_take(endpoint):
                inline.setdefault(job_id, []).append(_Post(event, endpoint))
            else:
                later.setdefault(job_id, []).append((event, endpoint))
    posts = [p for job_posts in inline.values() for p in job_posts]
    try:
        signed = deliverer.sign([(p.event, p.endpoint) for p in posts])
        for p, (body, headers) in zip(posts, signed, strict=True):
            p.body, p.headers = body, headers
        await session.commit()  # no transaction stays open during the HTTP requests
    except BaseException:
        for p in posts:
            deliverer.release(p.endpoint.id)
        raise

    async def post(p: _Post) -> Outcome:
        try:
            return await deliverer.sender.post(p.endpoint.url, p.headers, p.body)
        finally:  # as soon as this endpoint answers, not when the slowest one does
            deliverer.release(p.endpoint.id)

    for p in posts:
        p.task = asyncio.create_task(post(p))
    tasks = [p.task for p in posts if p.task]
    if tasks and wait_at_most is None:
        await asyncio.wait(tasks)
    elif tasks and wait_at_most is not None:
        await _wait_for_most(tasks, wait_at_most)
    alone: dict[str, Handler] = {}
    finished: list[_Post] = []
    for job_id, _, _ in jobs:
        job_posts = inline.get(job_id, [])
        if all(p.task and p.task.done() for p in job_posts):
            finished += job_posts
            _queue_first_attempts(session, later.get(job_id, []), config)
        else:
            alone[job_id] = _finish_alone(deliverer, job_posts, later.get(job_id, []))
    await _record(deliverer, session, finished)
    return alone


# Below this, a POST's time is scheduling noise (a busy worker), not a slow receiver.
AT_LEAST = 0.1


async def _wait_for_most(tasks: list[asyncio.Task[Outcome]], at_most: float) -> None:
    """Until every POST answered, or for at most ``at_most`` s, and once half of them answered,
    for at most as long again (or ``AT_LEAST`` s): a batch lasts about twice its typical answer,
    not as long as its slowest one."""
    loop = asyncio.get_running_loop()
    started, left = loop.time(), len(tasks)
    half, everyone = asyncio.Event(), asyncio.Event()

    def answered(_: object) -> None:
        nonlocal left
        left -= 1
        if left <= len(tasks) // 2:
            half.set()
        if left == 0:
            everyone.set()

    for task in tasks:
        task.add_done_callback(answered)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(at_most):
            await half.wait()
    took = loop.time() - started
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, min(at_most - took, max(took, AT_LEAST)))):
            await everyone.wait()


def _finish_alone(deliverer: Deliverer, posts: list[_Post], later: list[Target]) -> Handler:
    async def finish(ctx: JobContext) -> None:
        await asyncio.wait([p.task for p in posts if p.task])
        _queue_first_attempts(ctx.session, later, deliverer.config)
        await _record(deliverer, ctx.session, posts)

    return finish


async def _record(deliverer: Deliverer, session: AsyncSession, posts: list[_Post]) -> None:
    """Deliveries and attempts as two executemany Core INSERTs (deliveries first), then health."""
    if not posts:
        return
    now = clock.now()
    deliveries: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    for p in posts:
        event, endpoint, outcome = p.event, p.endpoint, p.outcome()
        delivery = delivery_row(event.id, endpoint, now=now, next_attempt_at=None, attempt_count=1)
        delivery.update(
            deliverer.settle(
                session,
                delivery["id"],
                outcome,
                trigger=SCHEDULED,
                n=1,
                fail_on_error=False,
                now=now,
            )
        )
        deliveries.append(delivery)
        attempts.append(
            attempt_row(
                delivery["id"], event.id, endpoint, p.headers, outcome, trigger=SCHEDULED, now=now
            )
        )
    # On the tables, not the classes: the ORM's bulk-insert path costs more than the INSERTs.
    await session.execute(_INSERT_DELIVERIES, deliveries)
    await session.execute(_INSERT_ATTEMPTS, attempts)
    # Health per endpoint, in order; a run of like outcomes changes nothing after its first.
    last: dict[str, tuple[bool, bool]] = {}
    for p in posts:
        outcome = p.outcome()
        kind = (outcome.ok, outcome.status == 410)
        if last.get(p.endpoint.id) != kind:
            last[p.endpoint.id] = kind
            await deliverer.update_health(session, p.endpoint, outcome, now)
