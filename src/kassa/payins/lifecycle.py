"""Applying a transition: the status change, its audit entry and its event, in one session.

They commit (or roll back) together because they share the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import audit, clock
from kassa.core.ids import new_id
from kassa.jobs import emit
from kassa.payins import events as _events  # declares the event types
from kassa.payins.models import Payment, PaymentAttempt, Refund
from kassa.payins.state import EVENT_FOR, check_transition
from kassa.payins.views import payment_json, refund_json
from kassa.providers.base import DeclinedError, TransientProviderError
from kassa.providers.resilience import CallRecord

_ = _events


def transition(
    session: AsyncSession,
    payment: Payment,
    target: str,
    *,
    attempts: Sequence[PaymentAttempt] = (),
) -> None:
    """Move ``payment`` to ``target`` (or raise InvalidStateTransition), audit it, emit it."""
    check_transition(payment.status, target)
    before = payment.status
    payment.status = target
    payment.updated_at = clock.now()
    audit.record(
        session,
        action=f"payment.{target}",
        object_type="payment",
        object_id=payment.id,
        account_id=payment.account_id,
        before={"status": before},
        after={"status": target, "amount_captured": payment.amount_captured},
    )
    emit(
        session,
        EVENT_FOR[target],
        payment_json(payment, attempts),
        account_id=payment.account_id,
        livemode=payment.livemode,
    )


def emit_created(session: AsyncSession, payment: Payment) -> None:
    audit.record(
        session,
        action="payment.create",
        object_type="payment",
        object_id=payment.id,
        account_id=payment.account_id,
        after={"status": payment.status, "amount": payment.amount, "currency": payment.currency},
    )
    emit(
        session,
        "payment.created",
        payment_json(payment),
        account_id=payment.account_id,
        livemode=payment.livemode,
    )


def refund_event(
    session: AsyncSession, refund: Refund, event_type: str, before: str | None
) -> None:
    refund.updated_at = clock.now()
    audit.record(
        session,
        action=event_type,
        object_type="refund",
        object_id=refund.id,
        account_id=refund.account_id,
        before={"status": before} if before else None,
        after={"status": refund.status, "amount": refund.amount, "payment_id": refund.payment_id},
    )
    emit(
        session,
        event_type,
        refund_json(refund),
        account_id=refund.account_id,
        livemode=refund.livemode,
    )


def outcome_of(record: CallRecord, success: str) -> tuple[str, str | None, str | None]:
    error = record.error
    if error is None:
        return success, None, None
    if isinstance(error, DeclinedError):
        return "declined", error.decline_code, error.message[:500]
    if isinstance(error, TransientProviderError):
        return ("timeout" if error.ambiguous else "unavailable"), error.code, error.message[:500]
    return "refused", error.code, error.message[:500]


def add_attempts(
    session: AsyncSession,
    payment: Payment,
    *,
    operation: str,
    idempotency_key: str,
    records: Sequence[CallRecord],
    success: str,
) -> list[PaymentAttempt]:
    now = clock.now()
    rows = []
    for record in records:
        outcome, code, message = outcome_of(record, success)
        row = PaymentAttempt(
            id=new_id("att"),
            payment_id=payment.id,
            operation=operation,
            provider=record.provider,
            idempotency_key=idempotency_key,
            outcome=outcome,
            error_code=code,
            error_message=message,
            elapsed_ms=record.elapsed_ms,
            created_at=now,
        )
        session.add(row)
        rows.append(row)
    return rows
