"""EIP-1559 fees for the hot wallet's transactions, from the chain (eth_feeHistory), under
a configured maximum: when the next block's base fee plus the tip is above it, nothing is
offered and the refund waits (seed 002: "block refunds temporarily" while gas is high)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kassa.chain.nodes import NodePool
from kassa.chain.rpc import RpcError, hex_int
from kassa.chain.wallet import FeeOffer

GWEI = 10**9
MIN_TIP = GWEI // 10  # 0.1 gwei: a tip of nothing may never be mined on a busy chain


def gwei_to_wei(gwei: Decimal) -> int:
    return int(gwei * GWEI)


@dataclass(frozen=True, slots=True)
class FeeQuote:
    base_fee: int  # the next block's, in wei per gas
    tip: int
    cap: int  # the configured maximum fee per gas

    @property
    def offer(self) -> FeeOffer | None:
        """What to sign with, or None while base fee + tip is above the cap."""
        if self.base_fee + self.tip > self.cap:
            return None
        return FeeOffer(min(2 * self.base_fee + self.tip, self.cap), self.tip)


async def quote_fees(pool: NodePool, cap: int) -> FeeQuote:
    try:
        history = await pool.call("eth_feeHistory", hex(5), "latest", [50])
        base = hex_int(history["baseFeePerGas"][-1])  # the next block's
        rewards = sorted(hex_int(r[0]) for r in history.get("reward") or [] if r)
        tip = rewards[len(rewards) // 2] if rewards else MIN_TIP
    except (RpcError, KeyError, IndexError, TypeError, ValueError):
        # A chain without EIP-1559 fee history: the legacy gas price is the whole fee.
        base = hex_int(await pool.call("eth_gasPrice"))
        tip = MIN_TIP
    return FeeQuote(base, max(tip, MIN_TIP), cap)
