"""Canceling a payment that was not captured; an authorization is released at the provider.

1. ``intend``: check that the payment can be canceled (nothing is written: the release is
   safe to repeat, so there is no intent to record);
2. ``call``: release the authorization at the provider (key ``pay_.../cancel``);
3. ``settle``: commit the attempts and the cancellation, guarded: only if the payment is still
   as it was read (a capture that started meanwhile wins, and this cancel is refused).

A crash between 2 and 3 leaves an authorized payment the merchant can cancel again. A captured
payment cannot be canceled: refund it. A payment waiting for the customer (``requires_action``)
is canceled at the provider too, so the customer can no longer complete it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock, executor
from kassa.core.changes import ChangeSet
from kassa.payins import lifecycle
from kassa.payins.capture import raise_for_error
from kassa.payins.errors import PAYMENT_NOT_CANCELABLE
from kassa.payins.gateway import Outcome, call_one, scope_of
from kassa.payins.models import Payment, PaymentAttempt
from kassa.payins.repository import attempts_for, get_owned
from kassa.payins.state import CANCELED, PENDING, REQUIRES_ACTION, REQUIRES_CAPTURE
from kassa.payins.views import payment_json
from kassa.providers.base import CancelRequest, ChargeResult
from kassa.providers.registry import ProviderRegistry

CANCELABLE = frozenset({PENDING, REQUIRES_ACTION, REQUIRES_CAPTURE})
# What the provider holds and a cancel releases: an authorization, or a charge that waits for
# the customer (canceled there, so a customer who acts later pays nothing).
AT_PROVIDER = frozenset({REQUIRES_ACTION, REQUIRES_CAPTURE})


def cancel_key(payment_id: str) -> str:
    return f"{payment_id}/cancel"


async def check(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
    to_change: bool = False,
) -> Payment:
    payment = await get_owned(
        session,
        Payment,
        payment_id,
        account_id=account_id,
        livemode=livemode,
        to_change=to_change,
    )
    if payment.status not in CANCELABLE:
        raise PAYMENT_NOT_CANCELABLE(
            f"A payment that is {payment.status} cannot be canceled"
            + ("; refund it instead." if payment.amount_captured else "."),
            details={"current_status": payment.status},
        )
    return payment


async def intend(
    sessions: async_sessionmaker[AsyncSession], *, account_id: str, livemode: bool, payment_id: str
) -> Payment:
    """Step 1: the payment, if it can be canceled (raises otherwise)."""
    async with executor.unit(sessions) as step:
        return await check(
            step.reads, account_id=account_id, livemode=livemode, payment_id=payment_id
        )


def releases_authorization(payment: Payment) -> bool:
    """Whether canceling ``payment`` calls the provider (it holds something of it)."""
    return payment.status in AT_PROVIDER


async def call(registry: ProviderRegistry, payment: Payment) -> Outcome[ChargeResult] | None:
    """Step 2: release an authorization at the provider; None when there is none to release."""
    if not releases_authorization(payment):
        return None
    request = CancelRequest(cancel_key(payment.id), payment.provider_payment_id or "")
    return await call_one(
        registry,
        payment.provider,
        lambda provider: provider.cancel(request),
        scope=scope_of(payment),
    )


async def settle(
    sessions: async_sessionmaker[AsyncSession],
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
    outcome: Outcome[ChargeResult] | None,
) -> Payment:
    """Step 3: commit the attempts and, unless the provider refused, the cancellation; both
    only if the payment can still be canceled (raises otherwise)."""

    async def describe(reads: AsyncSession) -> tuple[ChangeSet, Payment]:
        payment = await check(
            reads, account_id=account_id, livemode=livemode, payment_id=payment_id, to_change=True
        )
        changes = ChangeSet()
        changes.guard(payment, "status")
        attempts: list[PaymentAttempt] = []
        if outcome is not None:
            attempts = lifecycle.add_attempts(
                changes,
                payment,
                operation="cancel",
                idempotency_key=cancel_key(payment.id),
                records=outcome.records,
                success="canceled",
            )
            if outcome.error is not None:
                return changes, payment
        payment.amount_capturable = 0
        payment.next_action = None
        payment.canceled_at = clock.now()
        lifecycle.transition(changes, payment, CANCELED, attempts=attempts)
        return changes, payment

    return await executor.commit_fresh(sessions, describe)


async def cancel_payment(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
    on_provider_call: Callable[[], None] | None = None,
) -> dict[str, object]:
    """Check, release at the provider (an authorized payment only), record. A refusal raised
    before the provider is asked changed nothing; ``on_provider_call`` is called right before
    it is (the API then remembers the request's outcome under its Idempotency-Key)."""
    payment = await intend(
        sessions, account_id=account_id, livemode=livemode, payment_id=payment_id
    )
    if on_provider_call is not None and releases_authorization(payment):
        on_provider_call()
    outcome = await call(registry, payment)
    payment = await settle(
        sessions, account_id=account_id, livemode=livemode, payment_id=payment_id, outcome=outcome
    )
    async with executor.unit(sessions) as step:
        view = payment_json(payment, await attempts_for(step.reads, payment_id))
    if outcome is not None:
        raise_for_error(outcome, payment_id)
    return view
