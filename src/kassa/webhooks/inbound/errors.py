"""The catalog entries of the codes inbound webhooks and the inbound events API raise."""

from __future__ import annotations

from kassa.core.error_catalog import declare
from kassa.core.errors import InvalidRequest, NotFound, ServiceUnavailable

INVALID_SIGNATURE = declare(
    "invalid_signature",
    InvalidRequest,
    "A provider webhook whose signature is missing, malformed, stale or made with another "
    "secret or certificate: refused and not stored (the detail never tells the secret).",
)
INVALID_WEBHOOK_PAYLOAD = declare(
    "invalid_webhook_payload",
    InvalidRequest,
    "A correctly signed provider webhook whose body is not an event (not JSON, no id or type).",
)
WEBHOOK_RECEIVER_UNKNOWN = declare(
    "webhook_receiver_unknown",
    NotFound,
    "No such webhook URL: an unknown provider, or credentials that do not exist (or have no "
    "webhook secret configured).",
)
PAYPAL_VERIFY_UNAVAILABLE = declare(
    "paypal_verify_unavailable",
    ServiceUnavailable,
    "PayPal's verify-webhook-signature API could not be asked (unreachable, failing, or "
    "refusing kassa's credentials): the delivery is not stored, and PayPal sends it again.",
)
