"""The job ``payins.apply_provider_event``: one stored, verified provider event applied.

1. Load the ``InboundEvent``; its provider's parser turns the payload into a neutral update
   (``updates.py``), or None: a type kassa does not act on -> ``ignored``.
2. Find the payment it is about within the event's account (``lookup.py``); none ->
   ``unknown_object`` (kept, with its payload, for a person or a later reprocess).
3. Apply the update through the pay-in use cases (``apply.py``, ``refunds.py``,
   ``payins.disputes``): a change set per step, so each state change, its audit entry and its
   kassa events commit together; idempotent by state, so a repeat changes nothing.
4. Record the outcome on the event: ``processed`` with the kassa object (``object_id``), and
   the account for an event of the install's default credentials; ``error`` keeps what kassa
   left as is, when its state disagreed.

An exception marks the event ``failed`` with the exception's kind (and kassa's own message,
never a provider's text or a stack trace, which could hold secrets) and is raised again, so
the job machinery retries it with backoff; a refund for a payment still processing is
retried the same way until the charge is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import executor
from kassa.core.changes import ChangeSet
from kassa.core.errors import KassaError
from kassa.jobs import Retry
from kassa.payins import disputes
from kassa.payins.models import Payment
from kassa.payins.provider_events import apply, braintree, paypal, stripe
from kassa.payins.provider_events.lookup import Scope, find_payment
from kassa.payins.provider_events.refunds import PaymentNotSettled, apply_refunds
from kassa.payins.provider_events.updates import (
    ActionCompleted,
    ActionRequired,
    Canceled,
    Charged,
    Declined,
    DisputeChanged,
    Refunded,
    SettlementDeclined,
    UnreadableEvent,
    Update,
)
from kassa.payins.repository import get_payment
from kassa.providers.credentials import DEFAULT
from kassa.webhooks.inbound.event_log import record_processing
from kassa.webhooks.inbound.models import (
    FAILED,
    IGNORED,
    PROCESSED,
    UNKNOWN_OBJECT,
    InboundEvent,
)

log = logging.getLogger("kassa.payins.provider_events")
JOB = "payins.apply_provider_event"
PARSERS: dict[str, ModuleType] = {"stripe": stripe, "paypal": paypal, "braintree": braintree}
WAIT_FOR_SETTLEMENT = timedelta(seconds=30)

REQUIRES_ACTION = "requires_action"  # the payment waits for its customer (payins/state.py)
# Confirms a payment waiting for its customer, as ``payins.confirm.complete_customer_action``
# (sessions, payment id, trigger="webhook:<event type>") bound to the providers: the event is a
# hint, the provider's answer to kassa's confirmation decides. Without one, such an event is
# kept as ``ignored`` with a note (reprocessing it later applies it).
CompleteAction = Callable[[async_sessionmaker[AsyncSession], str, str], Awaitable[object]]
# What says the customer acted (or gave up), for a payment that waits for them.
_ACTED = (Charged, Declined, Canceled, ActionCompleted)


@dataclass(frozen=True)
class Result:
    status: str
    object_id: str | None = None
    account_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Event:
    """What processing needs of the stored event (read, then the session is closed)."""

    id: str
    provider: str
    credentials_id: str
    account_id: str | None
    livemode: bool
    event_type: str
    payload: dict[str, Any]


async def _load(sessions: async_sessionmaker[AsyncSession], event_id: str) -> _Event | None:
    async with executor.unit(sessions) as step:
        row = await step.reads.get(InboundEvent, event_id)
        if row is None:
            return None
        return _Event(
            row.id,
            row.provider,
            row.credentials_id,
            row.account_id,
            row.livemode,
            row.event_type,
            dict(row.payload),
        )


async def _dispute(
    sessions: async_sessionmaker[AsyncSession], payment_id: str, kind: str, change: DisputeChanged
) -> apply.Applied:
    async def run(reads: AsyncSession) -> tuple[ChangeSet, apply.Applied]:
        changes = ChangeSet()
        payment = await get_payment(reads, payment_id)
        existing = await disputes.find(reads, kind, change.provider_dispute_id)
        if existing is not None and existing.payment_id != payment.id:
            note = f"The dispute belongs to {existing.payment_id}, not this payment."
            return changes, apply.Applied(existing.id, note)
        done = disputes.describe(changes, payment, existing, provider=kind, update=change)
        dispute_id = done.id if done else (existing.id if existing else payment.id)
        return changes, apply.Applied(dispute_id)

    return await executor.commit_fresh(sessions, run)


async def _apply(
    sessions: async_sessionmaker[AsyncSession],
    payment: Payment,
    event: _Event,
    change: Update,
    complete_action: CompleteAction | None,
) -> Result:
    kind = event.provider
    applied: apply.Applied
    if payment.status == REQUIRES_ACTION and isinstance(change, _ACTED):
        if complete_action is None:
            note = "Confirming a payment that waits for its customer is not available here."
            return Result(IGNORED, payment.id, payment.account_id, note)
        await complete_action(sessions, payment.id, f"webhook:{event.event_type}")
        applied = apply.Applied(payment.id)
    elif isinstance(change, Charged):
        applied = await apply.apply_to_payment(sessions, payment.id, apply.charged(change))
    elif isinstance(change, Declined):
        applied = await apply.apply_to_payment(sessions, payment.id, apply.declined(change))
    elif isinstance(change, Canceled):
        applied = await apply.apply_to_payment(sessions, payment.id, apply.canceled(change))
    elif isinstance(change, ActionRequired):
        # Nothing to write: kassa's own answer to the charge (or reconciliation) records the
        # requires_action state with what the customer must do (next_action, the client
        # secret), which only the provider's answer to kassa carries in full.
        applied = apply.Applied(payment.id)
    elif isinstance(change, SettlementDeclined):
        describe = apply.settlement_declined(change)
        applied = await apply.apply_to_payment(sessions, payment.id, describe)
    elif isinstance(change, Refunded):
        applied = await apply_refunds(sessions, payment.id, kind, change)
    elif isinstance(change, DisputeChanged):
        applied = await _dispute(sessions, payment.id, kind, change)
    else:  # approved, but the payment does not wait (any more): confirmed already
        assert isinstance(change, ActionCompleted)
        applied = apply.Applied(payment.id)
    return Result(PROCESSED, applied.object_id, payment.account_id, applied.note)


async def process(
    sessions: async_sessionmaker[AsyncSession],
    event: _Event,
    *,
    complete_action: CompleteAction | None = None,
) -> Result:
    """What the event comes to (it is applied here; the caller records the result)."""
    parser = PARSERS.get(event.provider)
    if parser is None:
        return Result(IGNORED, error=f"kassa does not act on {event.provider} events.")
    change: Update | None = parser.parse(event.event_type, event.payload)
    if change is None:
        return Result(IGNORED)
    scope = Scope(
        kind=event.provider,
        credentials_id=event.credentials_id,
        account_id=event.account_id,
        livemode=event.livemode,
    )
    async with executor.unit(sessions) as step:
        payment = await find_payment(
            step.reads, scope, change.payment_ids, parser.references(event.payload)
        )
    if payment is None:
        return Result(UNKNOWN_OBJECT)
    return await _apply(sessions, payment, event, change, complete_action)


def safe_error(exc: BaseException) -> str:
    """What a failure is recorded as: its kind, and kassa's own message (never a provider's
    text nor a traceback)."""
    if isinstance(exc, UnreadableEvent | KassaError | PaymentNotSettled):
        message = exc.message if isinstance(exc, KassaError) else str(exc)
        return f"{type(exc).__name__}: {message}"[:500]
    return f"{type(exc).__name__} (details in the worker's log)"


async def _record(
    sessions: async_sessionmaker[AsyncSession], event: _Event, result: Result
) -> None:
    unattributed = event.credentials_id == DEFAULT and event.account_id is None
    await record_processing(
        sessions,
        event.id,
        status=result.status,
        error=result.error,
        object_id=result.object_id,
        attribute_to=result.account_id if unattributed else None,
    )


async def apply_provider_event(
    sessions: async_sessionmaker[AsyncSession],
    inbound_event_id: str,
    *,
    complete_action: CompleteAction | None = None,
) -> Result | None:
    """Process one stored event and record what it came to; None if there is no such event.
    Raises (after recording ``failed``) for the job machinery to retry."""
    event = await _load(sessions, inbound_event_id)
    if event is None:
        log.warning("no such inbound event", extra={"inbound_event_id": inbound_event_id})
        return None
    try:
        result = await process(sessions, event, complete_action=complete_action)
    except PaymentNotSettled as exc:
        await _record(sessions, event, Result(FAILED, error=safe_error(exc)))
        raise Retry(WAIT_FOR_SETTLEMENT, str(exc)) from None
    except Exception as exc:
        await _record(sessions, event, Result(FAILED, error=safe_error(exc)))
        raise
    await _record(sessions, event, result)
    return result
