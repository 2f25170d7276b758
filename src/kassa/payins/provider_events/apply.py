"""Applying a neutral update to the payment it is about, through the pay-in use cases'
own settle steps, as a change set (guarded updates, audit entries and events committed
together; ``executor.commit_fresh`` reads again when a guard misses).

The rules (the provider's final word wins over kassa's "still waiting"; nothing moves
backwards; a repeat changes nothing):

- A payment still ``processing`` its authorization is settled by the event exactly as the
  provider's answer would have settled it (``create_payment.settle_authorization``); when
  kassa's own call returns later, its settle finds the payment settled and changes nothing.
  A capture in flight is settled the same way (``capture.settle_capture``).
- Captured at the provider while kassa waits for capture (``requires_capture``): captured.
- An event that agrees with what kassa has, or that would move a payment backwards (a
  ``succeeded`` after ``refunded``, a decline after success), changes nothing; when kassa's
  state contradicts the provider's (it failed, the provider says it succeeded) the event's
  ``error`` says so and the payment is left for a person to look at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import audit, clock, executor
from kassa.core.changes import ChangeSet
from kassa.core.money import Money
from kassa.payins import capture, lifecycle
from kassa.payins.create_payment import settle_authorization
from kassa.payins.errors import PAYMENT_CANCELED_BY_PROVIDER
from kassa.payins.gateway import Outcome
from kassa.payins.models import Payment
from kassa.payins.provider_events.updates import (
    Canceled,
    Charged,
    Declined,
    SettlementDeclined,
)
from kassa.payins.repository import get_payment
from kassa.payins.state import (
    CANCELED,
    PROCESSING,
    REQUIRES_CAPTURE,
    SUCCEEDED,
)
from kassa.providers.base import ChargeResult, DeclinedError, PermanentProviderError

CAPTURED = frozenset({SUCCEEDED, "partially_refunded", "refunded"})


@dataclass(frozen=True)
class Applied:
    """What applying an event came to: the kassa object it is about, and, when kassa left
    something as it was because its own state disagrees, why (kept on the event)."""

    object_id: str
    note: str | None = None


Describe = Callable[[ChangeSet, Payment], str | None]


async def apply_to_payment(
    sessions: async_sessionmaker[AsyncSession], payment_id: str, describe: Describe
) -> Applied:
    """Read the payment as stored now, describe the change (``describe`` returns a note or
    None), commit it; again from a fresh read if another writer changed it meanwhile."""

    async def run(reads: AsyncSession) -> tuple[ChangeSet, str | None]:
        changes = ChangeSet()
        payment = await get_payment(reads, payment_id)
        return changes, describe(changes, payment)

    note = await executor.commit_fresh(sessions, run)
    return Applied(payment_id, note)


def _in_flight(payment: Payment, operation: str) -> bool:
    return payment.status == PROCESSING and payment.pending_operation == operation


def _provider_id(payment: Payment, ids: tuple[str, ...]) -> str:
    return payment.provider_payment_id or (ids[0] if ids else "")


def charged(update: Charged) -> Describe:
    def describe(changes: ChangeSet, payment: Payment) -> str | None:
        whole = Money(payment.amount, payment.currency)
        amount = (
            update.amount if update.amount and update.amount.currency == whole.currency else None
        )
        result = ChargeResult(
            provider=payment.provider,
            provider_payment_id=_provider_id(payment, update.payment_ids),
            status="succeeded",
            amount=whole,
            amount_captured=amount or whole,
        )
        outcome: Outcome[ChargeResult] = Outcome(payment.provider, result=result)
        if _in_flight(payment, "authorize"):
            settle_authorization(changes, payment, outcome, ())
        elif _in_flight(payment, "capture"):
            capture.settle_capture(changes, payment, outcome)
        elif payment.status == REQUIRES_CAPTURE:  # captured at the provider (its dashboard)
            changes.guard(payment, status=REQUIRES_CAPTURE)
            captured = amount.minor if amount else payment.amount_capturable
            payment.amount_captured = min(captured, payment.amount_capturable)
            payment.amount_capturable = 0
            lifecycle.transition(changes, payment, PROCESSING)
            lifecycle.transition(changes, payment, SUCCEEDED)
        elif payment.status == PROCESSING:
            # Another operation in flight (a confirmation, payins/confirm.py): its own
            # answer, or reconciliation, settles it.
            return None
        elif payment.status not in CAPTURED:
            return f"The provider says the payment succeeded; kassa has it {payment.status}."
        return None

    return describe


def _declined(payment: Payment, ids: tuple[str, ...], code: str, message: str) -> DeclinedError:
    return DeclinedError(
        message,
        provider=payment.provider,
        decline_code=code,
        provider_payment_id=_provider_id(payment, ids),
    )


def declined(update: Declined) -> Describe:
    def describe(changes: ChangeSet, payment: Payment) -> str | None:
        error = _declined(payment, update.payment_ids, update.decline_code, update.message)
        outcome: Outcome[ChargeResult] = Outcome(payment.provider, error=error)
        if _in_flight(payment, "authorize"):
            settle_authorization(changes, payment, outcome, ())
        elif _in_flight(payment, "capture"):
            capture.settle_capture(changes, payment, outcome)
        # Otherwise an earlier attempt failed (a later one may have succeeded): nothing.
        return None

    return describe


def canceled(update: Canceled) -> Describe:
    def describe(changes: ChangeSet, payment: Payment) -> str | None:
        if payment.status == REQUIRES_CAPTURE:  # the authorization was released there
            changes.guard(payment, status=REQUIRES_CAPTURE)
            payment.amount_capturable = 0
            payment.canceled_at = clock.now()
            lifecycle.transition(changes, payment, CANCELED)
        elif _in_flight(payment, "authorize"):  # it never completed there
            error = PermanentProviderError(
                "The provider canceled the payment before it completed.",
                provider=payment.provider,
                code=PAYMENT_CANCELED_BY_PROVIDER.code,
            )
            settle_authorization(changes, payment, Outcome(payment.provider, error=error), ())
        elif payment.status in CAPTURED:
            return f"The provider says the payment was canceled; kassa has it {payment.status}."
        return None

    return describe


def settlement_declined(update: SettlementDeclined) -> Describe:
    def describe(changes: ChangeSet, payment: Payment) -> str | None:
        error = _declined(payment, update.payment_ids, update.code, update.message)
        outcome: Outcome[ChargeResult] = Outcome(payment.provider, error=error)
        if _in_flight(payment, "authorize"):
            settle_authorization(changes, payment, outcome, ())
            return None
        if _in_flight(payment, "capture"):
            capture.settle_capture(changes, payment, outcome)
            return None
        if payment.status not in CAPTURED or payment.failure_code == "settlement_declined":
            return None
        # The state machine has no way back from succeeded: the payment keeps its status,
        # says why the money did not arrive, and the audit log has it.
        changes.guard(payment, "status")
        payment.failure_code = "settlement_declined"
        payment.failure_message = update.message[:500]
        payment.decline_code = update.code[:64]
        payment.updated_at = clock.now()
        audit.record(
            changes,
            action="payment.settlement_declined",
            object_type="payment",
            object_id=payment.id,
            account_id=payment.account_id,
            before={"status": payment.status},
            after={"status": payment.status, "decline_code": payment.decline_code},
        )
        return (
            f"The provider declined the settlement; the payment stays {payment.status} "
            "with failure_code settlement_declined."
        )

    return describe
