"""Applying a transition: the status change, its audit entry and its event, written together.

They go to the caller's change set (or session), so they commit (or not) together.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import inspect

from kassa.core import audit, clock
from kassa.core.changes import Writes
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
    session: Writes,
    payment: Payment,
    target: str,
    *,
    attempts: Sequence[PaymentAttempt] = (),
) -> None:
    """Move ``payment`` to ``target`` (or raise InvalidStateTransition), audit it, emit it.

    The event carries the payment as GET shows it at this moment: with every attempt made for
    it, those of earlier steps (loaded with the locked payment) and this step's
    (``add_attempts`` puts them on the payment; ``attempts`` may name more)."""
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
        payment_json(payment, _all_attempts(payment, attempts)),
        account_id=payment.account_id,
        livemode=payment.livemode,
    )


def _all_attempts(payment: Payment, attempts: Sequence[PaymentAttempt]) -> Sequence[PaymentAttempt]:
    state = inspect(payment)
    if state.has_identity and "attempts" in state.unloaded:  # a stored one, loaded without
        raise RuntimeError(
            f"{payment.id}: load a payment with repository.get_payment (or get_owned with "
            "to_change) before changing it, so that its event can show its attempts"
        )
    known = payment.attempts
    more = [a for a in attempts if all(a is not k for k in known)]
    return sorted([*known, *more], key=lambda a: a.id)  # as GET orders them


def record_attempt(session: Writes, payment: Payment, attempt: PaymentAttempt) -> None:
    """Store an attempt and put it on the payment, whose next event shows it."""
    session.add(attempt)
    payment.attempts.append(attempt)


def emit_created(session: Writes, payment: Payment) -> None:
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


def refund_event(session: Writes, refund: Refund, event_type: str, before: str | None) -> None:
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
    session: Writes,
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
        record_attempt(session, payment, row)
        rows.append(row)
    return rows
