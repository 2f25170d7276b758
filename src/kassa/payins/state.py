"""The payment state machine: every allowed transition, and nothing else.

    pending ──> processing ──> requires_capture ──> processing (capture in flight)
       │          │  ▲  │  │            │
       │          │  │  │  └─> failed    └──> canceled
       │          │  │  └────> succeeded ──> partially_refunded ──> refunded
       │          ▼  │                   └──────────────────────────> refunded
       │     requires_action ──> canceled
       │          └────────────> failed
       └──> canceled

``processing`` means a provider call is in flight (or its answer was lost: reconciliation
settles it). A failed capture returns to ``requires_capture``; the authorization still holds.

``requires_action``: the provider waits for the customer (3-D Secure, PayPal approval; the
payment's ``next_action`` says what to do). Confirming it (``confirm.py``) goes back to
``processing`` while the confirmation is in flight, and from there to ``succeeded``,
``requires_capture`` or ``failed`` like an authorization, or back to ``requires_action`` when
the customer has not acted yet. One the customer abandons is canceled (reconciliation, after
the expiry, or the merchant); ``failed`` when the provider reports the challenge failed.
"""

from __future__ import annotations

from typing import Final

from kassa.core.errors import InvalidStateTransition

PENDING: Final = "pending"
PROCESSING: Final = "processing"
REQUIRES_ACTION: Final = "requires_action"
REQUIRES_CAPTURE: Final = "requires_capture"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
CANCELED: Final = "canceled"
PARTIALLY_REFUNDED: Final = "partially_refunded"
REFUNDED: Final = "refunded"

STATES: Final = (
    PENDING,
    PROCESSING,
    REQUIRES_ACTION,
    REQUIRES_CAPTURE,
    SUCCEEDED,
    FAILED,
    CANCELED,
    PARTIALLY_REFUNDED,
    REFUNDED,
)

TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    PENDING: frozenset({PROCESSING, CANCELED, FAILED}),
    PROCESSING: frozenset({REQUIRES_ACTION, REQUIRES_CAPTURE, SUCCEEDED, FAILED}),
    REQUIRES_ACTION: frozenset({PROCESSING, CANCELED, FAILED}),
    REQUIRES_CAPTURE: frozenset({PROCESSING, CANCELED}),
    SUCCEEDED: frozenset({PARTIALLY_REFUNDED, REFUNDED}),
    PARTIALLY_REFUNDED: frozenset({PARTIALLY_REFUNDED, REFUNDED}),
    FAILED: frozenset(),
    CANCELED: frozenset(),
    REFUNDED: frozenset(),
}

TERMINAL: Final = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
REFUNDABLE: Final = frozenset({SUCCEEDED, PARTIALLY_REFUNDED})

# The event each state emits when a payment enters it.
EVENT_FOR: Final[dict[str, str]] = {
    PROCESSING: "payment.processing",
    REQUIRES_ACTION: "payment.requires_action",
    REQUIRES_CAPTURE: "payment.requires_capture",
    SUCCEEDED: "payment.succeeded",
    FAILED: "payment.failed",
    CANCELED: "payment.canceled",
    PARTIALLY_REFUNDED: "payment.refunded",
    REFUNDED: "payment.refunded",
}


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, target: str) -> None:
    """Raise InvalidStateTransition unless ``current -> target`` is allowed."""
    if not can_transition(current, target):
        raise InvalidStateTransition(
            f"A payment that is {current} cannot become {target}.",
            details={"current_status": current, "requested_status": target},
        )
