"""The event bus: emit() writes the event and one job per subscriber, in one transaction.

Subscribers are job names registered per event-type pattern (``payment.*``, ``*``) at the
composition root. Fanning out at emit time, not in a separate fan-out job, saves one hop per
event (docs/decisions/0002-fan-out-at-emit.md). Delivery is at least once; handlers are
idempotent.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import clock, context
from kassa.core.ids import new_id
from kassa.jobs.catalog import is_declared
from kassa.jobs.models import Event
from kassa.jobs.outbox import enqueue

_subscriptions: list[tuple[str, str]] = []


def subscribe(pattern: str, job_name: str) -> None:
    """Run job ``job_name`` with ``{"event_id": ...}`` for every event matching ``pattern``."""
    if (pattern, job_name) not in _subscriptions:
        _subscriptions.append((pattern, job_name))


def subscribers(event_type: str) -> list[str]:
    return [job for pattern, job in _subscriptions if fnmatch.fnmatchcase(event_type, pattern)]


def clear_subscriptions() -> None:
    _subscriptions.clear()


def emit(
    session: AsyncSession,
    event_type: str,
    data: dict[str, Any],
    *,
    account_id: str | None,
    livemode: bool = False,
) -> Event:
    """Record ``event_type`` with ``data`` (the object as the API shows it) and fan it out."""
    if not is_declared(event_type):
        raise ValueError(f"event type {event_type!r} is not declared in kassa.jobs.catalog")
    event = Event(
        id=new_id("evt"),
        account_id=account_id,
        livemode=livemode,
        type=event_type,
        data=data,
        request_id=context.current().request_id,
        created_at=clock.now(),
    )
    session.add(event)
    for job_name in subscribers(event_type):
        enqueue(session, job_name, {"event_id": event.id})
    return event
