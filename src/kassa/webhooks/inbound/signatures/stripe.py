"""Stripe: ``Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...]``, each ``v1`` an
HMAC-SHA256 of ``<t>.<raw body>`` under an endpoint's signing secret (``whsec_...``).

Every configured secret is tried (during a rotation the install holds the old and the new),
every ``v1`` compared in constant time, and a timestamp further than ``tolerance`` seconds from
now is refused even when the signature holds: a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from kassa.core.digits import ascii_digits
from kassa.webhooks.inbound.errors import INVALID_SIGNATURE
from kassa.webhooks.inbound.signatures.event import ParsedEvent, json_object, text_field

HEADER = "stripe-signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300


def secrets_of(configured: str | None) -> tuple[str, ...]:
    """The signing secrets of a ``webhook_secret`` credentials field (comma-separated)."""
    return tuple(s.strip() for s in (configured or "").split(",") if s.strip())


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t" and ascii_digits(value):
            timestamp = int(value)
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise INVALID_SIGNATURE(
            "The Stripe-Signature header has no timestamp (t=) or no v1 signature."
        )
    return timestamp, signatures


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``v1`` signature Stripe sends for ``body`` at ``timestamp`` (hex)."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ParsedEvent:
    """The event ``body`` holds, if ``header`` signs it with one of ``secrets`` recently."""
    if not header:
        raise INVALID_SIGNATURE("The Stripe-Signature header is missing.")
    timestamp, given = _parse_header(header)
    matched = False
    for secret in secrets:
        expected = sign(body, secret, timestamp)
        for candidate in given:
            # Every pair is compared (no early exit): the time taken says nothing.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise INVALID_SIGNATURE(
            "No v1 signature of the Stripe-Signature header matches the body under the "
            "configured signing secrets."
        )
    if abs(now - timestamp) > tolerance:
        raise INVALID_SIGNATURE(
            f"The Stripe-Signature timestamp is more than {int(tolerance)} seconds from now "
            "(a stale or replayed delivery)."
        )
    payload = json_object(body)
    livemode = payload.get("livemode")
    return ParsedEvent(
        event_id=text_field(payload, "id", 255),
        event_type=text_field(payload, "type", 100),
        payload=payload,
        payload_json=body.decode(),
        livemode=livemode if isinstance(livemode, bool) else None,
    )
