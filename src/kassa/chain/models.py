"""Tables of the chain monitor: a cursor per chain, the watched addresses, the transfers seen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kassa.core.db import Base

# A transfer's status on chain (``ChainTransfer.status``):
SEEN = "seen"  # in a block, fewer confirmations than the chain needs
CONFIRMED = "confirmed"  # enough confirmations
REORGED = "reorged"  # its block is no longer on the canonical chain: it never happened
TRANSFER_STATUSES = (SEEN, CONFIRMED, REORGED)


class ChainCursor(Base):
    """How far the monitor has scanned one chain, and who is scanning it now (a lease, so
    exactly one monitor per chain runs at a time however many workers there are)."""

    __tablename__ = "chain_cursors"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    chain_id: Mapped[int]
    # The last block scanned and its hash (None before the first scan).
    block_number: Mapped[int | None]
    block_hash: Mapped[str | None] = mapped_column(String(66))
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ReceivingAddress(Base):
    """An address whose incoming token transfers kassa watches: a merchant's wallet."""

    __tablename__ = "chain_receiving_addresses"
    __table_args__ = (UniqueConstraint("chain", "address", "livemode"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # cra_...
    account_id: Mapped[str] = mapped_column(String(40), index=True)
    livemode: Mapped[bool]
    chain: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(42))  # lower case
    created_at: Mapped[datetime]


class ChainTransfer(Base):
    """One ``Transfer`` log of a watched token to a watched address: one per (chain, tx, log
    index), so two transfers in one transaction are two rows and a rescan adds none."""

    __tablename__ = "chain_transfers"
    __table_args__ = (
        UniqueConstraint("chain", "tx_hash", "log_index"),
        Index("ix_chain_transfers_open", "chain", "status", "block_number"),
        Index("ix_chain_transfers_to", "chain", "to_address", "token_address"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # ctr_...
    chain: Mapped[str] = mapped_column(String(40))
    token_address: Mapped[str] = mapped_column(String(42))
    token_symbol: Mapped[str] = mapped_column(String(16))
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int]
    block_number: Mapped[int]
    block_hash: Mapped[str] = mapped_column(String(66))
    block_time: Mapped[datetime]  # the block's own timestamp: when the customer paid
    from_address: Mapped[str] = mapped_column(String(42))
    to_address: Mapped[str] = mapped_column(String(42))
    # Base units as decimal text: a uint256 may exceed any SQL integer type, and a hostile
    # token can emit any value; exact either way.
    value: Mapped[str] = mapped_column(String(78))
    status: Mapped[str] = mapped_column(String(16), default=SEEN)
    confirmations: Mapped[int] = mapped_column(default=0)
    seen_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    reorged_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
