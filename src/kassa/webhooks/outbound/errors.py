"""The catalog entries of the codes outbound webhooks raise (see docs/webhooks.md)."""

from __future__ import annotations

from kassa.core.error_catalog import declare
from kassa.core.errors import Conflict, InvalidRequest

INVALID_WEBHOOK_URL = declare(
    "invalid_webhook_url",
    InvalidRequest,
    "The endpoint URL is not one kassa delivers to (scheme, host, private address).",
)
UNKNOWN_EVENT_TYPE = declare(
    "unknown_event_type", InvalidRequest, "An event type kassa does not send."
)
RECOVER_WINDOW_EXCEEDED = declare(
    "recover_window_exceeded", InvalidRequest, "`since` is more than 14 days ago."
)
WEBHOOK_ENDPOINT_DISABLED = declare(
    "webhook_endpoint_disabled", Conflict, "The endpoint is disabled: enable it first."
)
