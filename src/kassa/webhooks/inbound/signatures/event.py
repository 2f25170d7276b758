"""What a verified webhook is, whichever provider sent it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from kassa.webhooks.inbound.errors import INVALID_WEBHOOK_PAYLOAD


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    event_id: str  # the provider's own id: evt_..., WH-..., or a digest for Braintree
    event_type: str
    payload: dict[str, Any]
    payload_json: str  # ``payload`` as JSON text (the raw body where it is JSON already)
    livemode: bool | None = None  # when the event says so itself (Stripe)


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; anything else is not an event. Text PostgreSQL cannot store
    (NUL) is refused here, so one bad body never fails a whole group commit."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise INVALID_WEBHOOK_PAYLOAD("The body is not JSON.") from None
    if not isinstance(value, dict):
        raise INVALID_WEBHOOK_PAYLOAD("The body is not a JSON object.")
    if b"\\u0000" in body:
        raise INVALID_WEBHOOK_PAYLOAD("The body holds a NUL character.")
    return value


def text_field(payload: dict[str, Any], name: str, limit: int) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise INVALID_WEBHOOK_PAYLOAD(f"The event has no valid {name!r}.")
    return value
