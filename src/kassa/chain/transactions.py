"""Transactions of a wallet kassa signs for: balances, broadcasting, the nonce counter.

Broadcasting goes to every usable node (any may be the one a block producer hears); a node
that knows the transaction already answers with an error that is a success. The nonce row
per (chain, wallet) is made once, from the chain's pending count; refunds then take nonces
from it with guarded increments (payins/sessions/refund_send.py).
"""

from __future__ import annotations

import contextlib

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.chain.abi import call_data
from kassa.chain.nodes import NodePool, NoNodeAvailable
from kassa.chain.ops_models import WalletNonce
from kassa.chain.rpc import Call, RpcError, hex_int
from kassa.core import clock, executor
from kassa.core.changes import ChangeSet

# What nodes answer to a transaction they have already (or mined): a success for us.
_KNOWN = ("already known", "known transaction", "nonce too low", "already imported")


async def balances(pool: NodePool, wallet: str, token: str) -> tuple[int, int]:
    data = call_data("balanceOf(address)", ["address"], [wallet])
    token_hex, gas_hex = await pool.batch(
        [
            Call("eth_call", [{"to": token, "data": data}, "latest"]),
            Call("eth_getBalance", [wallet, "latest"]),
        ]
    )
    return int(token_hex, 16) if token_hex not in (None, "0x") else 0, hex_int(gas_hex)


async def broadcast(pool: NodePool, raw: str) -> None:
    """Send to every usable node (any may be the one a block producer hears). A node that
    has the transaction already, or mined it, says so with an error: that is a success,
    and no mark against the node."""
    errors: list[str] = []
    taken = False
    for node in pool.usable():
        try:
            await node.client.call("eth_sendRawTransaction", raw)
            taken = True
        except RpcError as exc:
            if any(known in str(exc).lower() for known in _KNOWN):
                taken = True  # tracking finds out which
            else:
                errors.append(str(exc))
    if taken:
        return
    raise NoNodeAvailable(
        f"No RPC node of {pool.chain.key} took the transaction ({'; '.join(errors) or 'none usable'}).",
        url=pool.chain.key,
    )


async def ensure_nonce_row(
    sessions: async_sessionmaker[AsyncSession], chain: str, wallet: str, count: int
) -> None:
    async with executor.unit(sessions) as step:
        if await step.reads.get(WalletNonce, (chain, wallet)) is not None:
            return
    changes = ChangeSet()
    changes.add(WalletNonce(chain=chain, wallet=wallet, next_nonce=count, updated_at=clock.now()))
    with contextlib.suppress(IntegrityError):  # another worker made it first
        await executor.commit(sessions, changes)
