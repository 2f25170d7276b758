"""Refunds of payment sessions: tokens sent back from the hot wallet.

pending    decided, not on chain yet: waiting for the fee to fall under the maximum,
           or its signed transaction (``raw_tx``, with its nonce) is committed and about
           to be sent (a crash here resends that same transaction, never a second one)
submitted  sent; tracked until it has the chain's confirmations (re-sent with a higher
           fee and the same nonce when stuck)
confirmed  on chain with enough confirmations
failed     reverted, or the hot wallet lacks the token or gas (``failure_reason``)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kassa.core.changes import writable
from kassa.core.db import Base

REFUND_PENDING, REFUND_SUBMITTED = "pending", "submitted"
REFUND_CONFIRMED, REFUND_FAILED = "confirmed", "failed"
REFUND_STATUSES = (REFUND_PENDING, REFUND_SUBMITTED, REFUND_CONFIRMED, REFUND_FAILED)
REFUND_OPEN = (REFUND_PENDING, REFUND_SUBMITTED)


class SessionRefund(Base):
    __tablename__ = "payment_session_refunds"
    __table_args__ = (Index("ix_payment_session_refunds_open", "status", "chain"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # psr_...
    session_id: Mapped[str] = mapped_column(ForeignKey("payment_sessions.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(40))
    livemode: Mapped[bool]
    status: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int]  # USD cents (what the merchant asked; a full refund: what was paid)
    currency: Mapped[str] = mapped_column(String(3))
    chain: Mapped[str] = mapped_column(String(40))
    chain_id: Mapped[int]
    token_symbol: Mapped[str] = mapped_column(String(16))
    token_address: Mapped[str] = mapped_column(String(42))
    decimals: Mapped[int]
    units: Mapped[str] = mapped_column(String(78))  # exact base units sent, decimal text
    to_address: Mapped[str] = mapped_column(String(42))
    reason: Mapped[str | None] = mapped_column(String(200))
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    waiting_reason: Mapped[str | None] = mapped_column(String(300))
    wallet: Mapped[str | None] = mapped_column(String(42))  # the hot wallet that signed
    nonce: Mapped[int | None]
    raw_tx: Mapped[str | None] = mapped_column(Text)  # the latest signed transaction
    tx_hash: Mapped[str | None] = mapped_column(String(66))  # its hash
    # Every hash signed for this nonce, space-separated: any of them may be the one mined.
    tx_hashes: Mapped[str] = mapped_column(Text, default="")
    max_fee_per_gas: Mapped[str | None] = mapped_column(String(40))  # wei, decimal text
    max_priority_fee_per_gas: Mapped[str | None] = mapped_column(String(40))
    sent_at_block: Mapped[int | None]  # the head when the latest transaction was sent
    block_number: Mapped[int | None]
    block_hash: Mapped[str | None] = mapped_column(String(66))
    confirmations: Mapped[int] = mapped_column(default=0)
    fee_paid: Mapped[str | None] = mapped_column(String(40))  # wei: gas used x price paid
    attempts: Mapped[int] = mapped_column(default=0)  # transactions signed (1 + replacements)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]


writable(SessionRefund)
