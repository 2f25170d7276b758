"""What a session asks for, per token: its price in base units, made unique by an offset.

Open sessions paying the same address with the same token each get a different amount:
the price plus an offset (in base units, below one cent) no other open session of that
address and token holds: the smallest when one of the first few is free, otherwise a random
free one (see ``free_units``). A transfer of exactly that amount then names its session,
even without the transaction hash. The customer pays at most 0.01 USD more than the price
minus one base unit; the amount shown and in the QR code is the exact one.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.chain.config import Chain, Token
from kassa.chain.units import base_units_to_text, usd_to_base_units
from kassa.core.money import Money
from kassa.payins.sessions.models import SessionQuote


def max_offset(token: Token) -> int:
    """Offsets stay below one cent of the token (10**(decimals-2) base units)."""
    cent: int = 10 ** (token.decimals - 2)
    return min(cent, 100_000)


def open_key(chain: Chain, token: Token, address: str, units: int) -> str:
    return f"{chain.key}:{token.address}:{address}:{units}"


def payment_link(quote: SessionQuote) -> str:
    """EIP-681: a wallet that scans it sends ``units`` of the token to the address."""
    return (
        f"ethereum:{quote.token_address}@{quote.chain_id}/transfer"
        f"?address={quote.to_address}&uint256={quote.units}"
    )


def amount_text(quote: SessionQuote) -> str:
    return base_units_to_text(int(quote.units), quote.decimals)


@dataclass(frozen=True, slots=True)
class Wanted:
    chain: Chain
    token: Token
    address: str


_SMALLEST = 16  # the smallest amounts, looked up first: few open sessions share a price
_PROBE = 32  # random amounts looked up at once when the smallest are taken
_PROBES = 4
_CHUNK = 500  # candidate amounts looked up per query in the last resort's scan
_RANDOM = secrets.SystemRandom()


async def free_units(
    reads: AsyncSession,
    wanted: Wanted,
    price: Money,
    *,
    skip: frozenset[int] = frozenset(),
    spread: bool = False,
) -> int | None:
    """A free amount for ``price`` on ``wanted`` (None when every offset is taken).

    The smallest of the first ``_SMALLEST`` amounts when one is free (the usual case: the
    second session at a price asks for one base unit more). Otherwise, and with ``spread``,
    the smallest free one of ``_PROBE`` amounts drawn at random from the whole range: with
    thousands of open sessions at one price a creation stays two short index reads instead
    of a scan of every taken amount, and concurrent creations no longer all race for the same
    next amount (a creation that lost a race retries with ``spread``). Only when nearly every
    amount is taken are they all looked at, a chunk at a time.

    Each look-up reads the candidates' keys (``open_key IN (...)``, the unique index), never
    every open quote of the address."""
    base = usd_to_base_units(price, wanted.token.decimals)
    end = base + max_offset(wanted.token)
    if not spread:
        free = await _free(reads, wanted, range(base, min(end, base + _SMALLEST)), skip)
        if free:
            return free[0]
    for _ in range(_PROBES):
        drawn = sorted(_RANDOM.sample(range(base, end), min(_PROBE, end - base)))
        free = await _free(reads, wanted, drawn, skip)
        if free:
            return free[0]
    for start in range(base, end, _CHUNK):
        free = await _free(reads, wanted, range(start, min(end, start + _CHUNK)), skip)
        if free:
            return _RANDOM.choice(free) if spread else free[0]
    return None


async def _free(
    reads: AsyncSession, wanted: Wanted, candidates: Sequence[int], skip: frozenset[int]
) -> list[int]:
    """The candidates no open quote of ``wanted`` holds, in their order."""
    keys = [open_key(wanted.chain, wanted.token, wanted.address, u) for u in candidates]
    taken = set(
        await reads.scalars(select(SessionQuote.units).where(SessionQuote.open_key.in_(keys)))
    )
    return [u for u in candidates if str(u) not in taken and u not in skip]
