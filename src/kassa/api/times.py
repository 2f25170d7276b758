"""Times and days a client sends (query filters, body fields): ISO 8601, aware, in range.

A time without a zone (``2026-12-01T00:00:00``) is refused rather than guessed: kassa cannot
know whether the client meant UTC or its own local time, and a filter off by hours returns
the wrong payments without a word. Numbers are refused too (the API documents strings in ISO
8601, and ``0.5`` read as a Unix time is rarely what was meant). A refusal is 400
``invalid_request`` naming the parameter.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

TIME_FILTER = "ISO 8601 with a zone, e.g. 2026-12-01T00:00:00Z or 2026-12-01T01:00:00+01:00."
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", re.ASCII | re.DOTALL)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _iso_time_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_TIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 time with a zone, e.g. 2026-12-01T00:00:00Z")
    return value


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            "a time needs a zone: end it with Z (UTC) or an offset such as +02:00, "
            "e.g. 2026-12-01T00:00:00Z"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is outside the years 1 to 9999 in UTC") from None


def _iso_day_text(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        raise ValueError("must be a day as YYYY-MM-DD")
    return value


def _reportable_day(value: date) -> date:
    if value == date.max:  # its end, the next midnight, is past the calendar's last day
        raise ValueError(f"the day must be before {date.max.isoformat()}")
    return value


UtcTime = Annotated[datetime, BeforeValidator(_iso_time_text), AfterValidator(_aware_utc)]
"""A point in time as ISO 8601 with a zone, converted to UTC."""

Day = Annotated[date, BeforeValidator(_iso_day_text), AfterValidator(_reportable_day)]
"""A UTC calendar day (YYYY-MM-DD) whose end, the next midnight, kassa can compare with."""
