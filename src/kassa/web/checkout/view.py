"""What the checkout page shows of one session: read by its id alone (the id is the
capability, as in Stripe's checkout URLs), and only what the customer paying it may see."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts.models import Account
from kassa.chain.config import Chain
from kassa.chain.models import REORGED
from kassa.core.money import Money
from kassa.payins.sessions.models import COMPLETED, CONFIRMING, EXPIRED, FAILED, PaymentSession
from kassa.payins.sessions.quotes import amount_text, payment_link
from kassa.payins.sessions.repository import quotes_of, transfers_of

# A session id: "ps_" and a ULID. Anything else is not looked up at all.
SESSION_ID = re.compile(r"^ps_[0-9A-HJKMNP-TV-Z]{26}$")
OPEN_STATUSES = ("pending", "confirming")


@dataclass(frozen=True, slots=True)
class Option:
    """One way to pay: a token on a chain, the exact amount, the merchant's address."""

    key: str  # "<chain>-<token>", the page's ?pay= value
    chain: str
    chain_id: int
    token: str
    token_address: str
    to_address: str
    units: str
    amount_text: str
    payment_link: str


@dataclass(frozen=True, slots=True)
class Progress:
    """The session's state as the customer reads it (the page and its live updates)."""

    status: str
    outcome: str | None
    confirmations: int  # of the least confirmed live transfer (0 without one)
    required: int  # what the paying chain needs
    redirect: str | None  # success_url once completed

    @property
    def finished(self) -> bool:
        return self.status not in OPEN_STATUSES

    def text(self) -> str:
        """Words, never a colour alone: what happened and what to do."""
        if self.status == COMPLETED:
            return "Payment complete. Thank you!"
        if self.status == CONFIRMING:
            return f"Payment seen on chain: confirming {self.confirmations}/{self.required}."
        if self.status == EXPIRED and self.outcome == "paid_late":
            return "Your payment arrived after the session expired. The merchant will contact you."
        if self.status == EXPIRED:
            return "This payment session has expired."
        if self.status == FAILED:
            return "This payment session failed."
        if self.outcome == "paid_partial":
            return "Received less than the amount due. Send the rest, or contact the merchant."
        return "Waiting for your payment."

    def as_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "outcome": self.outcome,
            "confirmations": self.confirmations,
            "required": self.required,
            "text": self.text(),
            "finished": self.finished,
            "redirect": self.redirect,
        }


@dataclass(frozen=True, slots=True)
class CheckoutView:
    session_id: str
    merchant: str
    amount: Money
    description: str | None
    expires_at: datetime
    success_url: str | None
    cancel_url: str | None
    options: tuple[Option, ...]
    progress: Progress

    def option(self, key: str | None) -> Option | None:
        """The option asked for, else the first."""
        chosen = next((o for o in self.options if o.key == key), None)
        return chosen or (self.options[0] if self.options else None)


async def find_session(reads: AsyncSession, session_id: str) -> PaymentSession | None:
    if not SESSION_ID.match(session_id):
        return None
    row: PaymentSession | None = await reads.get(PaymentSession, session_id)
    return row


async def progress_of(
    reads: AsyncSession, session: PaymentSession, chains: dict[str, Chain]
) -> Progress:
    live = [t for t in await transfers_of(reads, session.id) if t.status != REORGED]
    paying = chains.get(live[0].chain) if live else None
    if paying is None:
        quotes = await quotes_of(reads, session.id)
        paying = chains.get(quotes[0].chain) if quotes else None
    required = paying.confirmations if paying is not None else 1
    confirmations = min((t.confirmations for t in live), default=0)
    return Progress(
        status=session.status,
        outcome=session.outcome,
        confirmations=min(confirmations, required),
        required=required,
        redirect=session.success_url if session.status == COMPLETED else None,
    )


async def load_view(
    reads: AsyncSession, session_id: str, chains: dict[str, Chain]
) -> CheckoutView | None:
    """The page's view of a session, or None for an unknown id (or one that looks wrong)."""
    session = await find_session(reads, session_id)
    if session is None:
        return None
    merchant = await reads.scalar(select(Account.name).where(Account.id == session.account_id))
    options = tuple(
        Option(
            key=f"{q.chain}-{q.token_symbol}",
            chain=q.chain,
            chain_id=q.chain_id,
            token=q.token_symbol,
            token_address=q.token_address,
            to_address=q.to_address,
            units=q.units,
            amount_text=amount_text(q),
            payment_link=payment_link(q),
        )
        for q in await quotes_of(reads, session.id)
    )
    return CheckoutView(
        session_id=session.id,
        merchant=merchant or "",
        amount=Money(session.amount, session.currency),
        description=session.description,
        expires_at=session.expires_at,
        success_url=session.success_url,
        cancel_url=session.cancel_url,
        options=options,
        progress=await progress_of(reads, session, chains),
    )
