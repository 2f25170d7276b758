"""The table of events received from providers (Stripe, PayPal, Braintree, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kassa.core.db import Base

# What became of a received event (``status``):
RECEIVED = "received"  # stored and acknowledged; its processing job is queued
PROCESSED = "processed"  # applied to kassa's objects
IGNORED = "ignored"  # a type kassa does not act on; kept
UNKNOWN_OBJECT = "unknown_object"  # about an object kassa does not know; kept and marked
FAILED = "failed"  # processing raised; ``error`` says why, reprocess runs it again
STATUSES = (RECEIVED, PROCESSED, IGNORED, UNKNOWN_OBJECT, FAILED)


class InboundEvent(Base):
    """One verified event a provider sent, as received (``payload`` is the parsed body; the
    signature was checked on the raw bytes before anything was stored)."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        # A provider's event is stored once, per credentials it was sent for: redeliveries
        # and replays find this row and change nothing.
        UniqueConstraint("provider", "credentials_id", "event_id"),
        Index("ix_inbound_events_account", "account_id", "livemode", "id"),
        Index("ix_inbound_events_status", "status", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # iev_...
    provider: Mapped[str] = mapped_column(String(32))  # the kind: stripe, paypal, braintree
    # "default" (the install's credentials, from its settings) or an account's credentials id.
    credentials_id: Mapped[str] = mapped_column(String(40))
    # Whose event it is: the credentials' account (None for the install's default credentials
    # until processing finds the object it is about).
    account_id: Mapped[str | None] = mapped_column(String(40))
    livemode: Mapped[bool]
    event_id: Mapped[str] = mapped_column(String(255))  # the provider's own id (evt_..., WH-...)
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default=RECEIVED)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    # The kassa object the event was applied to (pay_..., re_..., dp_...), once known.
    object_id: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
