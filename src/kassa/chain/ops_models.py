"""Tables of the chain context's operations: the hot wallet's nonces, the node health the
worker saw (for the API's /health and /metrics), and alert state (rate limits)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from kassa.core.changes import writable
from kassa.core.db import Base


class WalletNonce(Base):
    """The next nonce the hot wallet uses on one chain. Taken by a guarded increment
    (compare-and-set on ``next_nonce``), so two workers never sign two transactions with
    one nonce, and a nonce is only taken together with the signed transaction that uses it
    (no gaps)."""

    __tablename__ = "chain_wallet_nonces"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    wallet: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int]
    updated_at: Mapped[datetime]


class NodeHealth(Base):
    """One RPC node as the worker's last health check saw it. The API reads these for
    /health and /metrics instead of asking the nodes itself: /health stays one quick query,
    and shows what the monitor actually uses. ``node`` is scheme://host:port, never a path
    (hosted nodes carry their API key there)."""

    __tablename__ = "chain_node_health"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    node: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int]  # its place in the chain's rpc_urls
    up: Mapped[bool]
    block_height: Mapped[int | None]
    latency_ms: Mapped[float | None]
    lagging: Mapped[bool]
    last_error: Mapped[str | None] = mapped_column(String(300))
    checked_at: Mapped[datetime]


class ChainAlert(Base):
    """An alert's state: since when its condition holds (None: it does not), and when it was
    last sent (rate limit)."""

    __tablename__ = "chain_alerts"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    since: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


writable(WalletNonce, NodeHealth, ChainAlert)
