"""The rows of a delivery and of an attempt, built in one place for every path that writes them.

The fan-out's batches insert them as executemany Core INSERTs, the single attempt job and the
manual sends as ORM objects (``WebhookDelivery(**row)``): both get every column from here, so
a column added or changed is added or changed for all of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kassa.core.ids import new_id
from kassa.webhooks.outbound.models import PENDING, WebhookEndpoint
from kassa.webhooks.outbound.sender import Outcome


def delivery_row(
    event_id: str,
    endpoint: WebhookEndpoint,
    *,
    now: datetime,
    next_attempt_at: datetime | None,
    attempt_count: int = 0,
) -> dict[str, Any]:
    """A pending delivery of ``event_id`` to ``endpoint``, every column given (an executemany
    INSERT needs the same keys in each row)."""
    return {
        "id": new_id("whd"),
        "event_id": event_id,
        "endpoint_id": endpoint.id,
        "account_id": endpoint.account_id,
        "status": PENDING,
        "attempt_count": attempt_count,
        "next_attempt_at": next_attempt_at,
        "last_status_code": None,
        "last_error": None,
        "delivered_at": None,
        "created_at": now,
        "updated_at": now,
    }


def attempt_row(
    delivery_id: str,
    event_id: str,
    endpoint: WebhookEndpoint,
    headers: dict[str, str],
    outcome: Outcome,
    *,
    trigger: str,
    now: datetime,
) -> dict[str, Any]:
    """One POST to ``endpoint`` as it was sent (``headers``) and what came of it."""
    return {
        "id": new_id("wha"),
        "delivery_id": delivery_id,
        "endpoint_id": endpoint.id,
        "event_id": event_id,
        "trigger": trigger,
        "url": endpoint.url,
        "request_headers": headers,
        "response_status": outcome.status,
        "response_body": outcome.body,
        "duration_ms": outcome.duration_ms,
        "error": outcome.error,
        "succeeded": outcome.ok,
        "created_at": now,
    }
