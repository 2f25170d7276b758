"""Inbound events as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from kassa.core.schemas import Out
from kassa.webhooks.inbound.models import InboundEvent


class InboundEventOut(Out):
    id: str
    object: Literal["inbound_event"] = "inbound_event"
    provider: str = Field(
        description="stripe, paypal, braintree, rise, or payout_mock (the mock payout "
        "provider's simulated webhooks)."
    )
    credentials: str = Field(
        description="The credentials the webhook was sent for: `default` (the install's) or "
        "an account's `pcr_...`."
    )
    event_id: str = Field(description="The provider's own event id (evt_..., WH-..., bt_...).")
    type: str = Field(description="The provider's event type, e.g. payment_intent.succeeded.")
    livemode: bool
    verified: bool = Field(
        description="Always true: only deliveries whose signature verified are stored."
    )
    status: str = Field(
        description="received (queued for processing), processed, ignored (a type kassa does "
        "not act on), unknown_object (about an object kassa does not know) or failed."
    )
    error: str | None = Field(description="Why processing failed, when it did.")
    attempts: int = Field(description="How many times processing ran.")
    object_id: str | None = Field(description="The kassa object it was applied to, once known.")
    payload: dict[str, Any] = Field(description="The event as the provider sent it.")
    received_at: datetime
    processed_at: datetime | None

    @classmethod
    def of(cls, event: InboundEvent) -> InboundEventOut:
        return cls(
            id=event.id,
            provider=event.provider,
            credentials=event.credentials_id,
            event_id=event.event_id,
            type=event.event_type,
            livemode=event.livemode,
            verified=True,
            status=event.status,
            error=event.error,
            attempts=event.attempts,
            object_id=event.object_id,
            payload=event.payload,
            received_at=event.received_at,
            processed_at=event.processed_at,
        )
