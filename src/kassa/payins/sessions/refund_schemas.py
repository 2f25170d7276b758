"""Session refunds as the API shows them (decision 0008)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from kassa.chain.units import base_units_to_text
from kassa.core.money import Money
from kassa.core.schemas import MoneyOut, Out
from kassa.payins.sessions.refund_models import SessionRefund

RefundStatus = Literal["pending", "submitted", "confirmed", "failed"]


class SessionRefundOut(Out):
    id: str
    object: Literal["payment_session_refund"] = "payment_session_refund"
    payment_session_id: str
    status: RefundStatus
    amount: MoneyOut = Field(description="In USD; the exact token amount is `units`.")
    chain: str
    chain_id: int
    token: str
    token_address: str
    units: str = Field(description="Base units sent, a decimal string.")
    units_text: str
    to_address: str = Field(description="Who gets it: the paying address unless one was given.")
    reason: str | None
    failure_reason: str | None = Field(description="Why it failed (status failed).")
    waiting_reason: str | None = Field(description="Why it is not sent yet (status pending).")
    from_address: str | None = Field(description="The hot wallet it is sent from.")
    nonce: int | None
    tx_hash: str | None = Field(description="The latest transaction sent for it.")
    tx_hashes: list[str] = Field(description="Every transaction signed (replacements too).")
    block_number: int | None
    confirmations: int
    max_fee_per_gas: str | None = Field(description="Wei per gas, a decimal string.")
    max_priority_fee_per_gas: str | None
    fee_paid: str | None = Field(description="Wei paid for gas, once mined.")
    attempts: int = Field(description="Transactions signed: 1, plus one per replacement.")
    livemode: bool
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    confirmed_at: datetime | None

    @classmethod
    def of(cls, refund: SessionRefund) -> SessionRefundOut:
        return cls(
            id=refund.id,
            payment_session_id=refund.session_id,
            status=refund.status,
            amount=MoneyOut.of(Money(refund.amount, refund.currency)),
            chain=refund.chain,
            chain_id=refund.chain_id,
            token=refund.token_symbol,
            token_address=refund.token_address,
            units=refund.units,
            units_text=base_units_to_text(int(refund.units), refund.decimals),
            to_address=refund.to_address,
            reason=refund.reason,
            failure_reason=refund.failure_reason,
            waiting_reason=refund.waiting_reason,
            from_address=refund.wallet,
            nonce=refund.nonce,
            tx_hash=refund.tx_hash,
            tx_hashes=refund.tx_hashes.split(),
            block_number=refund.block_number,
            confirmations=refund.confirmations,
            max_fee_per_gas=refund.max_fee_per_gas,
            max_priority_fee_per_gas=refund.max_priority_fee_per_gas,
            fee_paid=refund.fee_paid,
            attempts=refund.attempts,
            livemode=refund.livemode,
            created_at=refund.created_at,
            updated_at=refund.updated_at,
            submitted_at=refund.submitted_at,
            confirmed_at=refund.confirmed_at,
        )
