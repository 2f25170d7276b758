"""Tables of stablecoin payment sessions: the session, its quotes (what to pay, per token),
and the on-chain transfers bound to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kassa.core.changes import writable
from kassa.core.db import Base

# Session statuses (seed 002), then the refund states.
PENDING = "pending"  # waiting for a transfer (or holding one that pays too little)
CONFIRMING = "confirming"  # a transfer was seen; counting confirmations
COMPLETED = "completed"  # paid in full, with enough confirmations
EXPIRED = "expired"  # not paid in time (a partial or late payment is kept: ``outcome``)
FAILED = "failed"
REFUNDED = "refunded"  # every unit received was sent back (confirmed on chain)
PARTIALLY_REFUNDED = "partially_refunded"  # some of it was
REFUND_STATES = (REFUNDED, PARTIALLY_REFUNDED)
SESSION_STATUSES = (PENDING, CONFIRMING, COMPLETED, EXPIRED, FAILED, *REFUND_STATES)
OPEN = (PENDING, CONFIRMING)

# What was paid, beside the status (BTCPay's model): None until a transfer is bound.
PAID_EXACT, PAID_PARTIAL, PAID_OVER, PAID_LATE = "paid", "paid_partial", "paid_over", "paid_late"
OUTCOMES = (PAID_EXACT, PAID_PARTIAL, PAID_OVER, PAID_LATE)


class PaymentSession(Base):
    __tablename__ = "payment_sessions"
    __table_args__ = (
        Index("ix_payment_sessions_account", "account_id", "livemode", "id"),
        Index("ix_payment_sessions_open", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # ps_...
    account_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool]
    status: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(20))
    amount: Mapped[int]  # USD cents
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str | None] = mapped_column(String(1000))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    success_url: Mapped[str | None] = mapped_column(String(2048))
    cancel_url: Mapped[str | None] = mapped_column(String(2048))
    # The chain transaction the checkout page reported (verified, never trusted).
    reported_tx_hash: Mapped[str | None] = mapped_column(String(66))
    tx_hash: Mapped[str | None] = mapped_column(String(66))  # the (first) paying transaction
    expires_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SessionQuote(Base):
    """What the customer pays with one token on one chain: the exact amount in base units,
    made unique among the open sessions paying the same address with the same token (a small
    offset below one cent), so a transfer of that amount names its session."""

    __tablename__ = "payment_session_quotes"
    __table_args__ = (UniqueConstraint("open_key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # psq_...
    session_id: Mapped[str] = mapped_column(ForeignKey("payment_sessions.id"), index=True)
    chain: Mapped[str] = mapped_column(String(40))
    chain_id: Mapped[int]
    token_symbol: Mapped[str] = mapped_column(String(16))
    token_address: Mapped[str] = mapped_column(String(42))
    decimals: Mapped[int]
    to_address: Mapped[str] = mapped_column(String(42))
    units: Mapped[str] = mapped_column(String(78))  # base units, decimal text
    # "chain:token:address:units" while the session is open, NULL after: no two open
    # sessions share an amount on one address and token (NULLs never collide).
    open_key: Mapped[str | None] = mapped_column(String(220))


class SessionTransfer(Base):
    """A chain transfer bound to a session, and how it was bound."""

    __tablename__ = "payment_session_transfers"
    __table_args__ = (UniqueConstraint("transfer_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # pst_...
    session_id: Mapped[str] = mapped_column(ForeignKey("payment_sessions.id"), index=True)
    transfer_id: Mapped[str] = mapped_column(String(40))  # chain_transfers.id
    bound_by: Mapped[str] = mapped_column(String(20))  # "tx_hash", "amount" or "manual"
    created_at: Mapped[datetime]


writable(PaymentSession, SessionQuote, SessionTransfer)
