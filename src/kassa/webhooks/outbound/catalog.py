"""The event types outbound webhooks emit themselves, and matching an endpoint's filter."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from kassa.core.errors import InvalidRequest
from kassa.jobs.catalog import all_event_types, declare_event
from kassa.webhooks.outbound.errors import UNKNOWN_EVENT_TYPE

PING = "webhook_endpoint.ping"
FAILING = "webhook_endpoint.failing"
DISABLED = "webhook_endpoint.disabled"
RECOVERED = "webhook_endpoint.recovered"
# Events about an endpoint are not sent to that endpoint (it is the one not answering).
ABOUT_AN_ENDPOINT = (FAILING, DISABLED, RECOVERED)

# The endpoint as these events carry it (endpoints.to_dict, every field), in each event's state;
# a test keeps the keys equal to to_dict's.
_ENDPOINT_EXAMPLE = {
    "id": "we_01JD2Y3Z4A5B6C7D8E9F0GHJKM",
    "object": "webhook_endpoint",
    "url": "https://example.com/webhooks/kassa",
    "description": "Order service",
    "enabled_events": ["*"],
    "enabled": True,
    "disabled_reason": None,
    "livemode": False,
    "failing_since": "2026-01-26T21:40:12Z",
    "last_success_at": "2026-01-26T21:39:05Z",
    "created_at": "2026-01-05T08:00:00Z",
}

declare_event(
    PING,
    "A test event sent by POST /v1/webhook_endpoints/{id}/test to that endpoint only.",
    {"webhook_endpoint": "we_01JD2Y3Z4A5B6C7D8E9F0GHJKM", "message": "ping from kassa"},
)
declare_event(
    FAILING,
    "An endpoint has failed every delivery for a while (12 h by default); it will be "
    "disabled if it keeps failing. Sent to the account's other endpoints.",
    _ENDPOINT_EXAMPLE,
)
declare_event(
    DISABLED,
    "An endpoint was disabled: it only failed for 5 days (by default) or answered 410 Gone. "
    "Sent to the account's other endpoints.",
    {
        **_ENDPOINT_EXAMPLE,
        "enabled": False,
        "disabled_reason": "failing",
        "failing_since": "2026-01-22T09:58:30Z",
        "last_success_at": "2026-01-22T09:57:41Z",
    },
)
declare_event(
    RECOVERED,
    "An endpoint that was reported failing accepts deliveries again.",
    {**_ENDPOINT_EXAMPLE, "failing_since": None, "last_success_at": "2026-01-27T10:00:00Z"},
)

_PATTERN_RE = re.compile(r"^[a-z0-9_.*]{1,100}$")


def matches(patterns: Iterable[str], event_type: str) -> bool:
    return any(fnmatch.fnmatchcase(event_type, p) for p in patterns)


def validate_filter(patterns: list[str]) -> list[str]:
    """Event types or wildcards (``*``, ``payment.*``) that match something kassa emits."""
    if not patterns:
        raise InvalidRequest(
            "enabled_events needs at least one event type or '*'.", param="enabled_events"
        )
    known = [e.name for e in all_event_types()]
    cleaned: list[str] = []
    for pattern in patterns:
        if not _PATTERN_RE.match(pattern) or not any(
            fnmatch.fnmatchcase(name, pattern) for name in known
        ):
            raise UNKNOWN_EVENT_TYPE(
                f"{pattern!r} matches no event type kassa sends (see GET /v1/event_types).",
                param="enabled_events",
            )
        if pattern not in cleaned:
            cleaned.append(pattern)
    return cleaned
