"""The event bus: emit() writes the event and one job per subscriber, in one transaction.

Subscribers are job names registered per event-type pattern (``payment.*``, ``*``) at the
composition root. Fanning out at emit time, not in a separate fan-out job, saves one hop per
event (docs/decisions/0002-fan-out-at-emit.md). Delivery is at least once; handlers are
idempotent.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from kassa.core import clock, context
from kassa.core.changes import Writes
from kassa.core.ids import new_id
from kassa.jobs.catalog import is_declared
from kassa.jobs.models import Event
from kassa.jobs.outbox import enqueue


class Subscriptions:
    """Which job runs for which event type: patterns (``payment.*``, ``*``) -> job names."""

    def __init__(self) -> None:
        self._pairs: list[tuple[str, str]] = []

    def subscribe(self, pattern: str, job_name: str) -> None:
        if (pattern, job_name) not in self._pairs:
            self._pairs.append((pattern, job_name))

    def subscribers(self, event_type: str) -> list[str]:
        return [job for pattern, job in self._pairs if fnmatch.fnmatchcase(event_type, pattern)]


_current = Subscriptions()  # the process's, filled by the composition root


def install(subscriptions: Subscriptions) -> Subscriptions:
    """Make ``subscriptions`` the process's (a test's own); returns the previous ones."""
    global _current
    previous, _current = _current, subscriptions
    return previous


def subscribe(pattern: str, job_name: str) -> None:
    """Run job ``job_name`` with ``{"event_id": ...}`` for every event matching ``pattern``."""
    _current.subscribe(pattern, job_name)


def subscribers(event_type: str) -> list[str]:
    return _current.subscribers(event_type)


def emit(
    session: Writes,
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
