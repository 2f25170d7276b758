"""Pay-in tables. Amounts are integer minor units beside their ISO currency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kassa.core.changes import writable
from kassa.core.db import Base


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_account", "account_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool]
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PaymentMethod(Base):
    __tablename__ = "payment_methods"
    __table_args__ = (Index("ix_payment_methods_account", "account_id", "customer_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool]
    customer_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("customers.id"))
    type: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(40))
    provider_token: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]]  # display data only: brand, last4, expiry, bank, wallet
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    detached_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_account", "account_id", "id"),
        Index("ix_payments_status_updated", "status", "updated_at"),
        Index("ix_payments_created", "created_at"),
        Index("ix_payments_request_key", "account_id", "request_key"),
        # Provider events name the provider's id: found without a scan (provider_events).
        Index("ix_payments_provider_payment", "provider_payment_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool]
    status: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    amount_capturable: Mapped[int]
    amount_captured: Mapped[int]
    amount_refunded: Mapped[int]
    amount_refund_pending: Mapped[int]
    capture: Mapped[bool]
    customer_id: Mapped[str | None] = mapped_column(String(40))
    payment_method_id: Mapped[str | None] = mapped_column(String(40))
    payment_method_token: Mapped[str] = mapped_column(String(200))
    method_type: Mapped[str | None] = mapped_column(String(20))
    method_details: Mapped[dict[str, Any] | None]
    description: Mapped[str | None] = mapped_column(String(1000))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    provider: Mapped[str] = mapped_column(String(40))
    provider_payment_id: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(120))  # ours, sent to the provider
    # The API Idempotency-Key of the request that created it: a retry that takes over the key
    # of a request whose process died finds and resumes this payment instead of charging again.
    request_key: Mapped[str | None] = mapped_column(String(255))
    pending_operation: Mapped[str | None] = mapped_column(String(20))  # authorize confirm capture
    pending_amount: Mapped[int | None]  # the capture in flight
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(500))
    decline_code: Mapped[str | None] = mapped_column(String(64))
    # What the customer must do while the payment requires_action (``NextAction.to_json()``,
    # with the client secret: API answers show it, events leave it out); None otherwise.
    next_action: Mapped[dict[str, Any] | None]
    return_url: Mapped[str | None] = mapped_column(String(2048))  # sent with the charge
    canceled_at: Mapped[datetime | None]
    # The latest dispute of the payment (dp_...), once its customer disputed it.
    dispute_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Loaded only with a payment locked to change (``repository``), so that its events show
    # every attempt, as GET does; elsewhere reading it raises rather than query behind a back.
    attempts: Mapped[list[PaymentAttempt]] = relationship(
        order_by="PaymentAttempt.id", lazy="raise"
    )


class PaymentAttempt(Base):
    """One call to one provider for one payment: failover, retries and reconciliation."""

    __tablename__ = "payment_attempts"
    __table_args__ = (Index("ix_payment_attempts_payment", "payment_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(40), ForeignKey("payments.id"))
    operation: Mapped[str] = mapped_column(String(20))  # authorize capture cancel refund lookup
    provider: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(120))
    outcome: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(500))
    elapsed_ms: Mapped[int]
    created_at: Mapped[datetime]


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        Index("ix_refunds_account", "account_id", "id"),
        Index("ix_refunds_payment", "payment_id"),
        Index("ix_refunds_request_key", "account_id", "request_key"),
        UniqueConstraint("idempotency_key", name="uq_refunds_idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool]
    payment_id: Mapped[str] = mapped_column(String(40), ForeignKey("payments.id"))
    status: Mapped[str] = mapped_column(String(20))  # pending succeeded failed
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    reason: Mapped[str | None] = mapped_column(String(40))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    provider: Mapped[str] = mapped_column(String(40))
    provider_refund_id: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(120))
    # The API Idempotency-Key that created it: a retry of a crashed request resumes it.
    request_key: Mapped[str | None] = mapped_column(String(255))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Dispute(Base):
    """A customer's dispute (chargeback, inquiry, PayPal case) of a payment, as its provider
    reports it. Statuses: see ``payins.disputes``."""

    __tablename__ = "disputes"
    __table_args__ = (
        Index("ix_disputes_account", "account_id", "livemode", "id"),
        Index("ix_disputes_payment", "payment_id"),
        UniqueConstraint("provider", "provider_dispute_id", name="uq_disputes_provider_dispute"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # dp_...
    account_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool]
    payment_id: Mapped[str] = mapped_column(String(40), ForeignKey("payments.id"))
    provider: Mapped[str] = mapped_column(String(32))  # the kind: stripe, paypal, braintree
    provider_dispute_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    reason: Mapped[str | None] = mapped_column(String(100))  # the provider's, lower case
    evidence_due_by: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


writable(Payment, PaymentAttempt, Refund, Dispute)  # written through change sets (core.executor)
