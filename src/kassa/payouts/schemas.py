"""Payout objects as the API shows them (docs/decisions/0008): affiliates, payees,
subscription events, commissions, payout batches and their transactions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from kassa.core.money import Money
from kassa.core.schemas import MoneyOut, Out
from kassa.payouts.models import (
    Affiliate,
    Commission,
    Payee,
    PayoutBatch,
    PayoutTransaction,
    SubscriptionEvent,
)

AffiliateStatus = Literal["active", "suspended", "terminated"]
Schedule = Literal["daily", "weekly", "monthly"]
KycStatus = Literal["pending", "submitted", "approved", "rejected"]
InviteStatus = Literal["none", "sending", "sent", "accepted", "failed"]
SubscriptionEventType = Literal[
    "new", "renewal", "upgrade", "cancellation", "refund", "chargeback", "payment"
]
CommissionKind = Literal["new_subscription", "renewal", "upgrade", "one_time", "adjustment"]
CommissionStatus = Literal["pending", "approved", "queued", "paid", "failed", "cancelled"]
BatchStatus = Literal["pending", "queued", "processing", "completed", "failed", "cancelled"]
TransactionStatus = Literal["pending", "processing", "completed", "failed", "cancelled"]


def _money(minor: int, currency: str) -> dict[str, Any]:
    return Money(minor, currency).to_json()


class AffiliateOut(Out):
    id: str
    object: Literal["affiliate"] = "affiliate"
    code: str
    name: str
    email: str
    rate_bps: int
    tier_rates: dict[str, int]
    recurring: bool
    status: AffiliateStatus
    minimum_payout: MoneyOut
    schedule: Schedule | None
    schedule_time: str | None
    schedule_timezone: str | None
    metadata: dict[str, str]
    livemode: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, a: Affiliate) -> AffiliateOut:
        return cls.model_validate(
            {
                "id": a.id,
                "code": a.code,
                "name": a.name,
                "email": a.email,
                "rate_bps": a.rate_bps,
                "tier_rates": a.tier_rates,
                "recurring": a.recurring,
                "status": a.status,
                "minimum_payout": _money(a.minimum_payout, a.minimum_currency),
                "schedule": a.schedule,
                "schedule_time": a.schedule_time,
                "schedule_timezone": a.schedule_timezone,
                "metadata": a.metadata_,
                "livemode": a.livemode,
                "created_at": a.created_at,
                "updated_at": a.updated_at,
            }
        )


class PayeeOut(Out):
    id: str
    object: Literal["payee"] = "payee"
    affiliate_id: str
    provider: str
    provider_payee_id: str | None
    email: str
    kyc_status: KycStatus
    invite_status: InviteStatus
    invite_error: str | None
    invitation_sent_at: datetime | None
    invitation_accepted_at: datetime | None
    kyc_synced_at: datetime | None
    livemode: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Payee) -> PayeeOut:
        return cls.model_validate(
            {
                "id": p.id,
                "affiliate_id": p.affiliate_id,
                "provider": p.provider,
                "provider_payee_id": p.provider_payee_id,
                "email": p.email,
                "kyc_status": p.kyc_status,
                "invite_status": p.invite_status,
                "invite_error": p.invite_error,
                "invitation_sent_at": p.invitation_sent_at,
                "invitation_accepted_at": p.invitation_accepted_at,
                "kyc_synced_at": p.kyc_synced_at,
                "livemode": p.livemode,
                "created_at": p.created_at,
                "updated_at": p.updated_at,
            }
        )


class CommissionOut(Out):
    id: str
    object: Literal["commission"] = "commission"
    affiliate_id: str
    subscription_event_id: str
    subscription_id: str
    kind: CommissionKind
    rate_bps: int
    base_amount: MoneyOut
    amount: MoneyOut
    status: CommissionStatus
    payout_batch_id: str | None
    payout_transaction_id: str | None
    approved_at: datetime | None
    paid_at: datetime | None
    livemode: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Commission) -> CommissionOut:
        return cls.model_validate(
            {
                "id": c.id,
                "affiliate_id": c.affiliate_id,
                "subscription_event_id": c.source_event_id,
                "subscription_id": c.subscription_id,
                "kind": c.kind,
                "rate_bps": c.rate_bps,
                "base_amount": _money(c.base_amount, c.currency),
                "amount": _money(c.amount, c.currency),
                "status": c.status,
                "payout_batch_id": c.batch_id,
                "payout_transaction_id": c.transaction_id,
                "approved_at": c.approved_at,
                "paid_at": c.paid_at,
                "livemode": c.livemode,
                "created_at": c.created_at,
                "updated_at": c.updated_at,
            }
        )


class SubscriptionEventOut(Out):
    id: str
    object: Literal["subscription_event"] = "subscription_event"
    event_id: str
    type: SubscriptionEventType
    source: Literal["api", "payment"]
    affiliate_code: str
    affiliate_id: str | None
    subscription_id: str
    tier: str | None
    old_tier: str | None
    amount: MoneyOut
    occurred_at: datetime
    outcome: str
    commissions: list[CommissionOut]
    livemode: bool
    created_at: datetime

    @classmethod
    def of(cls, e: SubscriptionEvent, commissions: list[Commission]) -> SubscriptionEventOut:
        return cls.model_validate(
            {
                "id": e.id,
                "event_id": e.event_id,
                "type": e.type,
                "source": e.source,
                "affiliate_code": e.affiliate_code,
                "affiliate_id": e.affiliate_id,
                "subscription_id": e.subscription_id,
                "tier": e.tier,
                "old_tier": e.old_tier,
                "amount": _money(e.amount, e.currency),
                "occurred_at": e.occurred_at,
                "outcome": e.outcome,
                "commissions": [CommissionOut.of(c).json_value() for c in commissions],
                "livemode": e.livemode,
                "created_at": e.created_at,
            }
        )


class ApprovedOut(Out):
    object: Literal["approval"] = "approval"
    approved: list[str]  # ids of the commissions approved now
    skipped: list[str]  # ids named that were not pending


class PayoutTransactionOut(Out):
    id: str
    object: Literal["payout_transaction"] = "payout_transaction"
    payee_id: str
    affiliate_id: str
    provider_payee_id: str
    amount: MoneyOut
    commission_count: int
    status: TransactionStatus
    attempts: int
    provider_transaction_id: str | None
    error_code: str | None
    error_message: str | None
    completed_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, t: PayoutTransaction) -> PayoutTransactionOut:
        return cls.model_validate(
            {
                "id": t.id,
                "payee_id": t.payee_id,
                "affiliate_id": t.affiliate_id,
                "provider_payee_id": t.provider_payee_id,
                "amount": _money(t.amount, t.currency),
                "commission_count": t.commission_count,
                "status": t.status,
                "attempts": t.attempts,
                "provider_transaction_id": t.provider_transaction_id,
                "error_code": t.error_code,
                "error_message": t.error_message,
                "completed_at": t.completed_at,
                "created_at": t.created_at,
            }
        )


class PayoutOut(PayoutTransactionOut):
    """A transaction with its batch: the data of ``payout.paid`` and ``payout.failed``."""

    batch_id: str
    batch_number: str
    livemode: bool

    @classmethod
    def of_batch(cls, t: PayoutTransaction, b: PayoutBatch) -> PayoutOut:
        values = PayoutTransactionOut.of(t).model_dump()
        return cls.model_validate(
            {**values, "batch_id": b.id, "batch_number": b.number, "livemode": b.livemode}
        )


class PayoutBatchOut(Out):
    id: str
    object: Literal["payout_batch"] = "payout_batch"
    number: str
    provider: str
    total: MoneyOut
    payment_count: int
    status: BatchStatus
    error_message: str | None
    transactions: list[PayoutTransactionOut]
    executed_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    livemode: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, b: PayoutBatch, transactions: list[PayoutTransaction]) -> PayoutBatchOut:
        return cls.model_validate(
            {
                "id": b.id,
                "number": b.number,
                "provider": b.provider,
                "total": _money(b.total, b.currency),
                "payment_count": b.payment_count,
                "status": b.status,
                "error_message": b.error_message,
                "transactions": [PayoutTransactionOut.of(t).json_value() for t in transactions],
                "executed_at": b.executed_at,
                "completed_at": b.completed_at,
                "cancelled_at": b.cancelled_at,
                "livemode": b.livemode,
                "created_at": b.created_at,
                "updated_at": b.updated_at,
            }
        )


class DuePayeeOut(Out):
    """One payee's approved commissions in one currency, and whether they are paid now."""

    object: Literal["due_payout"] = "due_payout"
    affiliate_id: str
    payee_id: str | None
    amount: MoneyOut
    commission_count: int
    payable: bool
    reasons: list[str]  # why it is held back (empty when payable)


class PreviewOut(Out):
    object: Literal["payout_preview"] = "payout_preview"
    payable: list[DuePayeeOut]
    held_back: list[DuePayeeOut]
