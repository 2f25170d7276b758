"""Payment sessions as the API shows them (decision 0008)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import Field

from kassa.chain.models import ChainTransfer, ReceivingAddress
from kassa.chain.units import base_units_to_text
from kassa.core.money import Money
from kassa.core.schemas import MoneyOut, Out
from kassa.payins.sessions.links import checkout_url
from kassa.payins.sessions.models import PaymentSession, SessionQuote
from kassa.payins.sessions.quotes import amount_text, payment_link

SessionStatus = Literal[
    "pending", "confirming", "completed", "expired", "failed", "refunded", "partially_refunded"
]
Outcome = Literal["paid", "paid_partial", "paid_over", "paid_late"]


class QuoteOut(Out):
    chain: str
    chain_id: int
    token: str = Field(description="The token's symbol, e.g. USDC.")
    token_address: str
    decimals: int
    to_address: str = Field(description="The merchant's address: pay exactly `amount` here.")
    amount: str = Field(description="The exact amount in base units (a decimal string).")
    amount_text: str = Field(description='The same amount as a wallet shows it: "12.340001".')
    payment_link: str = Field(description="An EIP-681 link (for a QR code).")

    @classmethod
    def of(cls, quote: SessionQuote) -> QuoteOut:
        return cls(
            chain=quote.chain,
            chain_id=quote.chain_id,
            token=quote.token_symbol,
            token_address=quote.token_address,
            decimals=quote.decimals,
            to_address=quote.to_address,
            amount=quote.units,
            amount_text=amount_text(quote),
            payment_link=payment_link(quote),
        )


class TransferOut(Out):
    id: str
    object: Literal["chain_transfer"] = "chain_transfer"
    chain: str
    token: str
    token_address: str
    tx_hash: str
    log_index: int
    block_number: int
    block_time: datetime
    from_address: str
    to_address: str
    value: str = Field(description="Base units, a decimal string.")
    value_text: str
    status: Literal["seen", "confirmed", "reorged"]
    confirmations: int
    session_id: str | None = Field(description="The session it paid; null when unmatched.")
    seen_at: datetime
    confirmed_at: datetime | None

    @classmethod
    def of(cls, transfer: ChainTransfer, decimals: int, session_id: str | None) -> TransferOut:
        return cls(
            id=transfer.id,
            chain=transfer.chain,
            token=transfer.token_symbol,
            token_address=transfer.token_address,
            tx_hash=transfer.tx_hash,
            log_index=transfer.log_index,
            block_number=transfer.block_number,
            block_time=transfer.block_time,
            from_address=transfer.from_address,
            to_address=transfer.to_address,
            value=transfer.value,
            value_text=base_units_to_text(int(transfer.value), decimals),
            status=transfer.status,
            confirmations=transfer.confirmations,
            session_id=session_id,
            seen_at=transfer.seen_at,
            confirmed_at=transfer.confirmed_at,
        )


class PaymentSessionOut(Out):
    id: str
    object: Literal["payment_session"] = "payment_session"
    status: SessionStatus
    outcome: Outcome | None = Field(
        description="What was paid: exactly (paid), too little, too much, or after expiry."
    )
    amount: MoneyOut = Field(description="The price, in USD.")
    description: str | None
    metadata: dict[str, str]
    success_url: str | None
    cancel_url: str | None
    checkout_url: str | None = Field(
        None,
        description="The hosted checkout page to send the customer to "
        "(KASSA_PUBLIC_URL/checkout/{id}), in responses and event payloads alike.",
    )
    quotes: list[QuoteOut] = Field(description="What to pay, per accepted token and chain.")
    transfers: list[TransferOut] = Field(description="The transfers bound to this session.")
    tx_hash: str | None
    livemode: bool
    expires_at: datetime
    confirmed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(
        cls,
        session: PaymentSession,
        quotes: Sequence[SessionQuote],
        transfers: Sequence[ChainTransfer] = (),
    ) -> PaymentSessionOut:
        decimals = {q.token_address: q.decimals for q in quotes}
        return cls(
            id=session.id,
            status=session.status,
            outcome=session.outcome,
            amount=MoneyOut.of(Money(session.amount, session.currency)),
            description=session.description,
            metadata=dict(session.metadata_),
            success_url=session.success_url,
            cancel_url=session.cancel_url,
            checkout_url=checkout_url(session.id),
            quotes=[QuoteOut.of(q) for q in quotes],
            transfers=[
                TransferOut.of(t, decimals.get(t.token_address, 0), session.id) for t in transfers
            ],
            tx_hash=session.tx_hash,
            livemode=session.livemode,
            expires_at=session.expires_at,
            confirmed_at=session.confirmed_at,
            created_at=session.created_at,
            updated_at=session.updated_at,
        )


class ReceivingAddressOut(Out):
    id: str
    object: Literal["receiving_address"] = "receiving_address"
    chain: str
    address: str
    livemode: bool
    created_at: datetime

    @classmethod
    def of(cls, row: ReceivingAddress) -> ReceivingAddressOut:
        return cls(
            id=row.id,
            chain=row.chain,
            address=row.address,
            livemode=row.livemode,
            created_at=row.created_at,
        )
