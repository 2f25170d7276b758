"""The retry schedule: delays between attempts with ±20 % jitter, and Retry-After parsing.

A schedule is written as delays before each attempt, the first one counted from the event:
``0,5s,5m,30m,2h,5h,10h,10h`` (the default) or seed 002's ``0,10s,60s,600s``. Its length is
the number of automatic attempts.

A receiver's ``Retry-After`` can only push an attempt later, never bring it forward: a receiver
answering ``Retry-After: 2`` to every attempt would otherwise use up the whole schedule (about
27 hours) in seconds and see the delivery given up while it is still recovering.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from kassa.core.digits import ascii_digits
from kassa.core.errors import ConfigurationError

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DELAY_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
JITTER = 0.2


def parse_duration(text: str) -> timedelta:
    match = _DELAY_RE.match(text.strip().lower())
    if not match:
        raise ConfigurationError(f"{text!r} is not a duration such as 30, 10s, 5m, 2h or 1d.")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_schedule(text: str) -> tuple[timedelta, ...]:
    """``"0,5s,5m"`` -> (0 s, 5 s, 5 min); at least one attempt."""
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise ConfigurationError("KASSA_WEBHOOK_RETRY_SCHEDULE needs at least one delay.")
    return tuple(parse_duration(p) for p in parts)


def format_schedule(schedule: tuple[timedelta, ...]) -> str:
    return ", ".join(format_duration(d) for d in schedule)


def format_duration(delay: timedelta) -> str:
    seconds = delay.total_seconds()
    if seconds == 0:
        return "immediately"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"


def jittered(delay: timedelta) -> timedelta:
    """``delay`` ±20 %, so endpoints that failed together are not retried together."""
    return delay * random.uniform(1 - JITTER, 1 + JITTER)


def next_delay(schedule: tuple[timedelta, ...], attempts_made: int) -> timedelta | None:
    """The jittered delay before the next automatic attempt, None when attempts are used up."""
    if attempts_made >= len(schedule):
        return None
    return jittered(schedule[attempts_made])


def delay_after_failure(
    schedule: tuple[timedelta, ...],
    attempts_made: int,
    *,
    retry_after: timedelta | None,
    retry_after_max: timedelta,
) -> timedelta | None:
    """The delay before the next automatic attempt after a failed one, None when attempts are
    used up: the schedule's (jittered) delay, or the receiver's ``Retry-After`` when that is
    longer, which counts only up to ``retry_after_max`` (it never shortens the schedule)."""
    scheduled = next_delay(schedule, attempts_made)
    if scheduled is None or retry_after is None:
        return scheduled
    return max(scheduled, min(retry_after, retry_after_max))


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """Retry-After as delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if ascii_digits(value):
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - now)
