"""Settings of the EVM chains kassa watches (``chains:`` in YAML, ``KASSA_CHAINS`` as JSON)."""

from __future__ import annotations

from pydantic import BaseModel, Field

_ADDRESS = r"^0x[0-9a-fA-F]{40}$"


class TokenSettings(BaseModel):
    """A token contract on one chain (``chains.<key>.tokens.<SYMBOL>``)."""

    address: str = Field(pattern=_ADDRESS)
    decimals: int = Field(6, ge=0, le=36)


class ChainSettings(BaseModel):
    """One EVM chain kassa watches (``chains.<key>`` in YAML, or KASSA_CHAINS as JSON)."""

    chain_id: int = Field(ge=1)
    rpc_urls: list[str] = Field(min_length=1)
    # Blocks a transfer needs (its own included); None: the chain's usual (chain/config.py).
    confirmations: int | None = Field(None, ge=1)
    block_time_seconds: float = Field(2.0, gt=0)
    behind_head: int = Field(0, ge=0, description="Blocks to stay behind the head when scanning.")
    max_blocks_per_scan: int = Field(500, ge=1, le=10_000)
    start_block: int | None = Field(
        None, ge=0, description="First block to scan (default: the head when first watched)."
    )
    tokens: dict[str, TokenSettings] = Field(default_factory=dict)
