"""Sending a refund from the hot wallet and tracking it to confirmation.

Each ``advance`` moves one refund one step, and is safe to run at any time by any number
of workers (every write is guarded on what was read):

1. pending, nothing signed: wait while the fee is above the maximum (``waiting_reason``);
   fail, with an alert, when the hot wallet lacks the token or the gas; else take the
   wallet's next nonce (guarded increment of ``chain_wallet_nonces``) and commit it with the
   signed transaction (the intent), then ``eth_sendRawTransaction`` it;
2. pending, signed: a crash came between intent and send: send the same raw transaction;
3. submitted: look for a receipt of any transaction signed for it; count confirmations on
   the canonical chain (a receipt whose block was re-orged away counts as none, and the
   transaction, still valid, is sent again); reverted → failed with the reason; enough
   confirmations → confirmed, the session refunded or partially refunded, and
   ``payment_session.refunded``. Not mined after ``stuck_blocks``: the same nonce signed
   again with fees at least 25 % higher (nodes want +10 %), under the maximum.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.chain.config import Chain, chains_of
from kassa.chain.fees import quote_fees
from kassa.chain.nodes import NodePool
from kassa.chain.ops_models import ChainAlert, WalletNonce
from kassa.chain.rpc import Call, hex_int
from kassa.chain.transactions import balances, broadcast, ensure_nonce_row
from kassa.chain.units import base_units_to_text
from kassa.chain.wallet import ERC20_TRANSFER_GAS, FeeOffer, HotWallet, hot_wallet
from kassa.core import clock, executor
from kassa.core.changes import ChangeSet
from kassa.core.settings import Settings
from kassa.jobs import emit, enqueue
from kassa.payins.sessions.models import PARTIALLY_REFUNDED, REFUNDED, PaymentSession
from kassa.payins.sessions.refund_models import (
    REFUND_CONFIRMED,
    REFUND_FAILED,
    REFUND_OPEN,
    REFUND_PENDING,
    REFUND_SUBMITTED,
    SessionRefund,
)
from kassa.payins.sessions.refund_schemas import SessionRefundOut
from kassa.payins.sessions.refunds import confirmed_receipt, refunds_of
from kassa.payins.sessions.repository import quotes_of, transfers_of
from kassa.payins.sessions.schemas import PaymentSessionOut
from kassa.webhooks.outbound.health import EMAIL_JOB

log = logging.getLogger("kassa.payins.refunds")
ALERT_EVERY_SECONDS = 24 * 3600  # a low balance is told once a day, not once a refund


@dataclass(frozen=True)
class RefundConfig:
    chains: dict[str, Chain]
    wallet: HotWallet | None
    max_fee_wei: int
    stuck_blocks: int
    low_token_usd: Decimal
    low_gas_wei: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RefundConfig:
        return cls(
            chains=chains_of(settings),
            wallet=hot_wallet(settings),
            max_fee_wei=int(settings.refund_max_fee_gwei * 10**9),
            stuck_blocks=settings.refund_stuck_blocks,
            low_token_usd=settings.hot_wallet_low_token_usd,
            low_gas_wei=int(settings.hot_wallet_low_gas_ether * 10**18),
        )


def _gwei(wei: int) -> str:
    return f"{Decimal(wei) / 10**9:.3f}"


class RefundSender:
    def __init__(self, config: RefundConfig, pools: dict[str, NodePool]) -> None:
        self.config = config
        self.pools = pools
        # Between the intent's commit and the send (tests crash here on purpose).
        self.before_send: Callable[[SessionRefund], Awaitable[None]] | None = None

    async def advance(self, sessions: async_sessionmaker[AsyncSession], refund_id: str) -> str:
        """One step of the refund; its status afterwards."""
        refund = await _read(sessions, refund_id)
        if refund.status not in REFUND_OPEN:
            return refund.status
        pool = self.pools[refund.chain]
        head = await pool.check()
        if refund.raw_tx is None:
            await self._intend_and_send(sessions, pool, refund, head)
        elif refund.status == REFUND_PENDING:
            await self._send(sessions, pool, refund)
        else:
            await self._track(sessions, pool, refund, head)
        return (await _read(sessions, refund_id)).status

    # -- 1. deciding the transaction ------------------------------------------------------

    async def _intend_and_send(
        self,
        sessions: async_sessionmaker[AsyncSession],
        pool: NodePool,
        refund: SessionRefund,
        head: int,
    ) -> None:
        wallet = self.config.wallet
        if wallet is None:
            await _wait(
                sessions,
                refund,
                "No hot wallet is configured (set KASSA_HOT_WALLET_PRIVATE_KEY or KASSA_HOT_WALLET_KEY_FILE).",
            )
            return
        fees = await quote_fees(pool, self.config.max_fee_wei)
        offer = fees.offer
        if offer is None:
            await _wait(
                sessions,
                refund,
                f"The base fee ({_gwei(fees.base_fee)} gwei) plus tip is above the maximum "
                f"({_gwei(fees.cap)} gwei, KASSA_REFUND_MAX_FEE_GWEI); sent when it falls.",
            )
            return
        token_units, gas_wei = await balances(pool, wallet.address, refund.token_address)
        units = int(refund.units)
        gas_needed = ERC20_TRANSFER_GAS * offer.max_fee_per_gas
        problem = None
        if token_units < units:
            problem = (
                f"The hot wallet {wallet.address} holds "
                f"{base_units_to_text(token_units, refund.decimals)} {refund.token_symbol}; "
                f"the refund needs {base_units_to_text(units, refund.decimals)}."
            )
        elif gas_wei < gas_needed:
            problem = (
                f"The hot wallet {wallet.address} has {_gwei(gas_wei)} gwei for gas; the "
                f"refund may need {_gwei(gas_needed)} gwei."
            )
        if problem is not None:
            await _fail(sessions, refund, problem, alert=True)
            return
        pending_count = hex_int(
            await pool.call("eth_getTransactionCount", wallet.address, "pending")
        )
        await ensure_nonce_row(sessions, refund.chain, wallet.address, pending_count)
        chain = self.config.chains[refund.chain]

        async def describe(reads: AsyncSession) -> tuple[ChangeSet, None]:
            changes = ChangeSet()
            row = await reads.get(SessionRefund, refund.id)
            nonce_row = await reads.get(WalletNonce, (refund.chain, wallet.address))
            assert row is not None and nonce_row is not None
            if row.raw_tx is not None or row.status != REFUND_PENDING:
                return changes, None  # another worker decided it first
            # The chain's count is ahead when the wallet was used outside kassa.
            nonce = max(nonce_row.next_nonce, pending_count)
            signed = wallet.sign_token_transfer(
                chain_id=chain.chain_id,
                token=row.token_address,
                to=row.to_address,
                units=int(row.units),
                nonce=nonce,
                fees=offer,
            )
            now = clock.now()
            changes.guard(nonce_row, "next_nonce")
            nonce_row.next_nonce, nonce_row.updated_at = nonce + 1, now
            changes.guard(row, "status", "raw_tx")
            row.wallet, row.nonce = wallet.address, nonce
            row.raw_tx, row.tx_hash = signed.raw, signed.tx_hash
            row.tx_hashes = signed.tx_hash
            row.max_fee_per_gas = str(offer.max_fee_per_gas)
            row.max_priority_fee_per_gas = str(offer.max_priority_fee_per_gas)
            row.sent_at_block, row.attempts, row.waiting_reason = head, 1, None
            row.updated_at = now
            return changes, None

        await executor.commit_fresh(sessions, describe)
        await self._send(sessions, pool, await _read(sessions, refund.id))

    async def _send(
        self, sessions: async_sessionmaker[AsyncSession], pool: NodePool, refund: SessionRefund
    ) -> None:
        if self.before_send is not None:
            await self.before_send(refund)
        assert refund.raw_tx is not None
        await broadcast(pool, refund.raw_tx)
        if refund.status == REFUND_PENDING:
            changes = ChangeSet()
            changes.guard(refund, "status", "raw_tx")
            refund.status, refund.submitted_at = REFUND_SUBMITTED, clock.now()
            refund.updated_at = refund.submitted_at
            await executor.commit(sessions, changes)

    # -- 3. tracking ------------------------------------------------------------------------

    async def _track(
        self,
        sessions: async_sessionmaker[AsyncSession],
        pool: NodePool,
        refund: SessionRefund,
        head: int,
    ) -> None:
        assert refund.wallet is not None and refund.nonce is not None
        # The count first: a transaction mined after it shows in the receipts read next.
        mined_count = hex_int(await pool.call("eth_getTransactionCount", refund.wallet, "latest"))
        hashes = refund.tx_hashes.split()
        receipts = await pool.batch([Call("eth_getTransactionReceipt", [h]) for h in hashes])
        receipt = next((r for r in receipts if isinstance(r, dict)), None)
        chain = self.config.chains[refund.chain]
        if receipt is not None:
            number = hex_int(receipt["blockNumber"])
            block = await pool.call("eth_getBlockByNumber", hex(number), False)
            if isinstance(block, dict) and block.get("hash") == receipt["blockHash"]:
                await self._mined(sessions, refund, receipt, head - number + 1, chain)
            return  # a receipt from a block being re-orged: look again next time
        if refund.block_number is not None:
            # It was in a block that is gone: the transaction is valid still; send it again.
            changes = ChangeSet()
            changes.guard(refund, "status", "block_hash")
            refund.block_number, refund.block_hash, refund.confirmations = None, None, 0
            refund.sent_at_block, refund.updated_at = head, clock.now()
            await executor.commit(sessions, changes)
            await broadcast(pool, refund.raw_tx or "")
            return
        if mined_count > refund.nonce:
            await _fail(
                sessions,
                refund,
                f"Nonce {refund.nonce} of the hot wallet was used by another transaction (was "
                "the wallet used outside kassa?); nothing was sent for this refund.",
                alert=False,
            )
            return
        if head - (refund.sent_at_block or head) >= self.config.stuck_blocks:
            await self._replace(sessions, pool, refund, head)
        else:
            await broadcast(pool, refund.raw_tx or "")  # a node may have dropped it

    async def _replace(
        self,
        sessions: async_sessionmaker[AsyncSession],
        pool: NodePool,
        refund: SessionRefund,
        head: int,
    ) -> None:
        wallet = self.config.wallet
        if wallet is None or wallet.address != refund.wallet:
            return  # only the wallet that signed it can replace it; keep waiting
        old = FeeOffer(int(refund.max_fee_per_gas or 0), int(refund.max_priority_fee_per_gas or 0))
        quoted = (await quote_fees(pool, self.config.max_fee_wei)).offer
        bumped = old.bumped()
        new = FeeOffer(
            max(bumped.max_fee_per_gas, quoted.max_fee_per_gas if quoted else 0),
            max(bumped.max_priority_fee_per_gas, quoted.max_priority_fee_per_gas if quoted else 0),
        )
        if new.max_fee_per_gas > self.config.max_fee_wei:
            await _wait(
                sessions,
                refund,
                f"Stuck, and a replacement would pay {_gwei(new.max_fee_per_gas)} gwei, above "
                f"the maximum ({_gwei(self.config.max_fee_wei)} gwei).",
            )
            return
        assert refund.nonce is not None
        signed = wallet.sign_token_transfer(
            chain_id=refund.chain_id,
            token=refund.token_address,
            to=refund.to_address,
            units=int(refund.units),
            nonce=refund.nonce,
            fees=new,
        )
        changes = ChangeSet()
        changes.guard(refund, "status", "raw_tx")
        refund.raw_tx, refund.tx_hash = signed.raw, signed.tx_hash
        refund.tx_hashes = f"{refund.tx_hashes} {signed.tx_hash}".strip()
        refund.max_fee_per_gas = str(new.max_fee_per_gas)
        refund.max_priority_fee_per_gas = str(new.max_priority_fee_per_gas)
        refund.attempts += 1
        refund.sent_at_block, refund.waiting_reason = head, None
        refund.updated_at = clock.now()
        if (await executor.commit(sessions, changes)).matched:
            log.info("refund %s replaced with higher fees (attempt %d)", refund.id, refund.attempts)
            await broadcast(pool, signed.raw)

    async def _mined(
        self,
        sessions: async_sessionmaker[AsyncSession],
        refund: SessionRefund,
        receipt: dict[str, Any],
        confirmations: int,
        chain: Chain,
    ) -> None:
        tx_hash = str(receipt["transactionHash"]).lower()
        number = hex_int(receipt["blockNumber"])
        price = receipt.get("effectiveGasPrice") or "0x0"
        fee = hex_int(receipt["gasUsed"]) * hex_int(price)
        reverted = hex_int(receipt.get("status", "0x1")) == 0
        final = confirmations >= chain.confirmations

        async def describe(reads: AsyncSession) -> tuple[ChangeSet, None]:
            changes = ChangeSet()
            row = await reads.get(SessionRefund, refund.id)
            assert row is not None
            if row.status != REFUND_SUBMITTED:
                return changes, None
            now = clock.now()
            changes.guard(row, "status", "block_hash", "confirmations")
            row.tx_hash, row.block_number = tx_hash, number
            row.block_hash, row.confirmations = str(receipt["blockHash"]).lower(), confirmations
            row.fee_paid, row.updated_at = str(fee), now
            if final and reverted:
                row.status = REFUND_FAILED
                row.failure_reason = (
                    f"The token transfer {tx_hash} reverted on chain (the token refused it: "
                    "a paused or blocklisting token, or a changed balance); gas was paid."
                )
            elif final:
                row.status, row.confirmed_at = REFUND_CONFIRMED, now
                await _refunded(reads, changes, row)
            return changes, None

        await executor.commit_fresh(sessions, describe)
        if final and not reverted:
            await self._check_low_balance(sessions, refund)

    async def _check_low_balance(
        self, sessions: async_sessionmaker[AsyncSession], refund: SessionRefund
    ) -> None:
        wallet = self.config.wallet
        if wallet is None:
            return
        pool = self.pools[refund.chain]
        token_units, gas_wei = await balances(pool, wallet.address, refund.token_address)
        low_token = int(self.config.low_token_usd * 10**refund.decimals)
        lows = []
        if token_units < low_token:
            lows.append(
                f"{base_units_to_text(token_units, refund.decimals)} {refund.token_symbol} "
                f"(threshold {self.config.low_token_usd})"
            )
        if gas_wei < self.config.low_gas_wei:
            lows.append(f"{Decimal(gas_wei) / 10**18} of the native coin for gas")
        if lows:
            await _alert_low(sessions, refund, wallet.address, "; ".join(lows))


# -- helpers -------------------------------------------------------------------------------


async def _read(sessions: async_sessionmaker[AsyncSession], refund_id: str) -> SessionRefund:
    async with executor.unit(sessions) as step:
        row = await step.reads.get(SessionRefund, refund_id)
    if row is None:
        raise LookupError(f"no refund {refund_id}")
    return row


async def _wait(
    sessions: async_sessionmaker[AsyncSession], refund: SessionRefund, why: str
) -> None:
    if refund.waiting_reason == why:
        return
    changes = ChangeSet()
    changes.guard(refund, "status", "raw_tx")
    refund.waiting_reason, refund.updated_at = why, clock.now()
    await executor.commit(sessions, changes)
    log.info("refund %s waits: %s", refund.id, why)


async def _fail(
    sessions: async_sessionmaker[AsyncSession], refund: SessionRefund, why: str, *, alert: bool
) -> None:
    changes = ChangeSet()
    changes.guard(refund, "status", "raw_tx")
    refund.status, refund.failure_reason = REFUND_FAILED, why
    refund.waiting_reason, refund.updated_at = None, clock.now()
    if alert:
        enqueue(
            changes,
            EMAIL_JOB,
            {
                "account_id": refund.account_id,
                "subject": f"kassa: refund {refund.id} failed: the hot wallet is short",
                "body": f"{why}\n\nFund the hot wallet, then refund the session again.\n",
            },
        )
    await executor.commit(sessions, changes)
    log.warning("refund %s failed: %s", refund.id, why)


async def _alert_low(
    sessions: async_sessionmaker[AsyncSession], refund: SessionRefund, wallet: str, what: str
) -> None:
    key = f"hot_wallet_low:{refund.chain}:{wallet}:{refund.account_id}"
    now = clock.now()
    async with executor.unit(sessions) as step:
        row = await step.reads.get(ChainAlert, key)
    changes = ChangeSet()
    if row is None:
        row = ChainAlert(key=key, since=now, last_sent_at=now, updated_at=now)
        changes.add(row)
    else:
        if row.last_sent_at and (now - row.last_sent_at).total_seconds() < ALERT_EVERY_SECONDS:
            return
        changes.guard(row, "last_sent_at")
        row.last_sent_at, row.updated_at = now, now
    enqueue(
        changes,
        EMAIL_JOB,
        {
            "account_id": refund.account_id,
            "subject": f"kassa: the hot wallet is low on {refund.chain}",
            "body": (
                f"The hot wallet {wallet} on {refund.chain} holds {what}. Refunds fail when "
                "it cannot pay them; top it up.\n"
            ),
        },
    )
    try:
        await executor.commit(sessions, changes)
    except IntegrityError:
        return  # another worker told them just now


async def _refunded(reads: AsyncSession, changes: ChangeSet, refund: SessionRefund) -> None:
    """The session after a confirmed refund, and its event (in the refund's change set)."""
    session = await reads.get(PaymentSession, refund.session_id)
    assert session is not None
    transfers = await transfers_of(reads, session.id)
    found = confirmed_receipt(transfers)
    received = found[1] if found else 0
    back = int(refund.units) + sum(
        int(r.units)
        for r in await refunds_of(reads, session.id)
        if r.status == REFUND_CONFIRMED and r.id != refund.id
    )
    changes.guard(session, "status", "updated_at")
    session.status = REFUNDED if back >= received else PARTIALLY_REFUNDED
    session.updated_at = clock.now()
    data = PaymentSessionOut.of(session, await quotes_of(reads, session.id), transfers).json_value()
    data["refund"] = SessionRefundOut.of(refund).json_value()
    emit(
        changes,
        "payment_session.refunded",
        data,
        account_id=session.account_id,
        livemode=session.livemode,
    )
