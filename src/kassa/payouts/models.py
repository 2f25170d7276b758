"""Payout tables. Amounts are integer minor units beside their ISO currency; commission rates
are integer basis points (2500 = 25 %), never floats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kassa.core.changes import writable
from kassa.core.db import Base


class Affiliate(Base):
    __tablename__ = "affiliates"
    __table_args__ = (
        UniqueConstraint("account_id", "livemode", "code"),
        Index("ix_affiliates_account", "account_id", "livemode", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool]
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    rate_bps: Mapped[int]  # the default rate
    tier_rates: Mapped[dict[str, Any]]  # subscription tier -> basis points
    recurring: Mapped[bool]  # renewals earn commission too (else only the first payment)
    status: Mapped[str] = mapped_column(String(20))  # active | suspended | terminated
    minimum_payout: Mapped[int]
    minimum_currency: Mapped[str] = mapped_column(String(3))
    schedule: Mapped[str | None] = mapped_column(String(10))  # daily | weekly | monthly
    schedule_time: Mapped[str | None] = mapped_column(String(5))  # HH:MM
    schedule_timezone: Mapped[str | None] = mapped_column(String(64))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Payee(Base):
    """An affiliate's account at a payout provider (Rise: a RiseID with its KYC state)."""

    __tablename__ = "payees"
    __table_args__ = (
        UniqueConstraint("provider", "provider_payee_id"),
        Index("ix_payees_affiliate", "affiliate_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool]
    affiliate_id: Mapped[str] = mapped_column(String(40), ForeignKey("affiliates.id"))
    provider: Mapped[str] = mapped_column(String(32))
    provider_payee_id: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))
    kyc_status: Mapped[str] = mapped_column(String(20))  # pending|submitted|approved|rejected
    invite_status: Mapped[str] = mapped_column(String(20))  # none|sending|sent|accepted|failed
    invite_key: Mapped[str | None] = mapped_column(String(80))
    invite_id: Mapped[str | None] = mapped_column(String(100))
    invite_error: Mapped[str | None] = mapped_column(String(500))
    invitation_sent_at: Mapped[datetime | None]
    invitation_accepted_at: Mapped[datetime | None]
    kyc_synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SubscriptionEvent(Base):
    """What happened to a referred subscription, once per (account, mode, event id)."""

    __tablename__ = "subscription_events"
    __table_args__ = (
        UniqueConstraint("account_id", "livemode", "event_id"),
        Index("ix_subscription_events_account", "account_id", "livemode", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool]
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))  # api | payment
    affiliate_code: Mapped[str] = mapped_column(String(64))
    affiliate_id: Mapped[str | None] = mapped_column(String(40))
    subscription_id: Mapped[str] = mapped_column(String(255))
    tier: Mapped[str | None] = mapped_column(String(64))
    old_tier: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(40))  # what it earned, or why nothing
    created_at: Mapped[datetime]


class Commission(Base):
    """What an affiliate earned (or, negative, gives back) for one subscription event."""

    __tablename__ = "commissions"
    __table_args__ = (
        UniqueConstraint("affiliate_id", "source_event_id"),
        Index("ix_commissions_account", "account_id", "livemode", "id"),
        Index("ix_commissions_due", "account_id", "livemode", "status", "currency"),
        Index("ix_commissions_subscription", "affiliate_id", "subscription_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool]
    affiliate_id: Mapped[str] = mapped_column(String(40), ForeignKey("affiliates.id"))
    source_event_id: Mapped[str] = mapped_column(String(40))  # the subscription event (sev_)
    subscription_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))
    rate_bps: Mapped[int]
    base_amount: Mapped[int]  # what the rate was applied to
    amount: Mapped[int]  # negative for an adjustment (refund, chargeback)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    batch_id: Mapped[str | None] = mapped_column(String(40))
    transaction_id: Mapped[str | None] = mapped_column(String(40))
    approved_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PayoutBatch(Base):
    __tablename__ = "payout_batches"
    __table_args__ = (
        UniqueConstraint("number"),
        Index("ix_payout_batches_account", "account_id", "livemode", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool]
    number: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int]
    payment_count: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    run_key: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(String(500))
    executed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PayoutTransaction(Base):
    """One payment to one payee in a batch: the sum of that payee's commissions in it."""

    __tablename__ = "payout_transactions"
    __table_args__ = (Index("ix_payout_transactions_batch", "batch_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    batch_id: Mapped[str] = mapped_column(String(40), ForeignKey("payout_batches.id"))
    payee_id: Mapped[str] = mapped_column(String(40), ForeignKey("payees.id"))
    affiliate_id: Mapped[str] = mapped_column(String(40))
    provider_payee_id: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    commission_count: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))  # pending|processing|completed|failed|...
    attempts: Mapped[int]
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    provider_transaction_id: Mapped[str | None] = mapped_column(String(255))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PayoutRun(Base):
    """One scheduled run of an account's payouts for one slot of one schedule: the unique
    run key is what keeps two workers (or two ticks) from paying the same slot twice."""

    __tablename__ = "payout_runs"
    __table_args__ = (UniqueConstraint("run_key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool]
    run_key: Mapped[str] = mapped_column(String(200))
    slot_at: Mapped[datetime]
    batch_count: Mapped[int]
    created_at: Mapped[datetime]


# Written through change sets (core.executor): the rows a provider call's intent and result touch.
writable(Payee, PayoutBatch, PayoutTransaction, Commission, SubscriptionEvent)
