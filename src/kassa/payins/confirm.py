"""Completing a payment that waits for the customer (``requires_action``: 3-D Secure, PayPal
approval), crash-safe and once, in the three steps of every provider call.

1. ``intend``: ``requires_action`` -> ``processing`` (``pending_operation = "confirm"``),
   committed, guarded on the payment still requiring action: of two confirmations at once
   one commits its intent, the other reads it in flight and calls nobody;
2. ``call``: ``provider.confirm`` with the key ``pay_.../confirm``: the provider's charge as
   it stands now (the provider's idempotency holds, so nothing is charged twice);
3. ``settle``: the attempts and the answer, committed, guarded on that confirmation still being
   in flight (``settle_confirmation``): ``succeeded`` or ``requires_capture`` (as the payment
   asked), ``failed`` with the decline code (the challenge failed:
   ``authentication_required``), or ``requires_action`` again when the customer has not acted
   yet (or the provider could not be asked: nothing changed there). An ambiguous answer (a
   timeout) leaves the payment ``processing``; reconciliation confirms it again with the same
   key.

What sets it off:

- ``POST /v1/payments/{id}/confirm`` (``confirm_payment``): the merchant's server, once the
  customer is back on its ``return_url`` (or its page's JS finished the challenge). There is no
  customer-facing ``GET /v1/payments/{id}/return``: as at Stripe, the provider sends the
  customer to the merchant's ``return_url`` and the merchant's server asks kassa (confirm, or
  GET and wait for the ``payment.*`` webhook); kassa serves no page to customers here.
- The inbound-webhook processing (``payins/provider_events.py``): when the provider says the
  customer acted (``payment_intent.succeeded``, ``CHECKOUT.ORDER.APPROVED``, ...) for a
  payment in ``requires_action``, it calls ``complete_customer_action(sessions, registry,
  payment_id, trigger="webhook:<event type>")``. The webhook is a hint, never the outcome:
  kassa asks the provider (``confirm``) and applies what it answers, so a forged, late or
  repeated event changes nothing that the provider does not confirm.
- Reconciliation (``reconcile.py``): a payment still in ``requires_action`` after
  ``KASSA_ACTION_CONFIRM_AFTER_SECONDS`` is confirmed (the webhook may have been lost); one
  still waiting ``KASSA_ACTION_EXPIRES_AFTER_SECONDS`` after it was created is abandoned:
  canceled at the provider and marked ``canceled`` (``expire``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock, executor
from kassa.core.changes import ChangeSet
from kassa.core.errors import InvalidStateTransition
from kassa.core.money import Money
from kassa.payins import cancel, lifecycle
from kassa.payins.capture import raise_for_error
from kassa.payins.create_payment import (
    answered_outcome,
    apply_charge,
    apply_failure,
    raise_for_failure,
)
from kassa.payins.errors import CARD_DECLINED
from kassa.payins.gateway import Outcome, call_one, scope_of
from kassa.payins.models import Payment, PaymentAttempt
from kassa.payins.repository import attempts_for, get_owned, get_payment
from kassa.payins.state import CANCELED, PROCESSING, REQUIRES_ACTION
from kassa.payins.views import payment_json
from kassa.providers.base import ChargeResult, ConfirmRequest, DeclinedError
from kassa.providers.registry import ProviderRegistry

log = logging.getLogger("kassa.payins.confirm")
CONFIRM = "confirm"
Owner = tuple[str, bool]  # (account id, livemode): the API's caller


def confirm_key(payment_id: str) -> str:
    return f"{payment_id}/confirm"


def confirm_request(payment: Payment) -> ConfirmRequest:
    return ConfirmRequest(
        idempotency_key=confirm_key(payment.id),
        provider_payment_id=payment.provider_payment_id or "",
        amount=Money(payment.amount, payment.currency),
        capture=payment.capture,
    )


async def intend(
    sessions: async_sessionmaker[AsyncSession], *, payment_id: str, owner: Owner | None
) -> tuple[Payment, bool]:
    """Step 1: commit the confirmation's intent. Returns the payment and whether this call
    started a confirmation (False: it does not require action, or one is in flight)."""

    async def describe(reads: AsyncSession) -> tuple[ChangeSet, tuple[Payment, bool]]:
        if owner is None:
            payment = await get_payment(reads, payment_id)
        else:
            account_id, livemode = owner
            payment = await get_owned(
                reads, Payment, payment_id, account_id=account_id, livemode=livemode, to_change=True
            )
        changes = ChangeSet()
        if payment.status != REQUIRES_ACTION:
            return changes, (payment, False)
        changes.guard(payment, status=REQUIRES_ACTION)  # one confirmation at a time
        payment.pending_operation = CONFIRM
        lifecycle.transition(changes, payment, PROCESSING)
        return changes, (payment, True)

    return await executor.commit_fresh(sessions, describe)


async def call(registry: ProviderRegistry, payment: Payment) -> Outcome[ChargeResult]:
    """Step 2: ask the payment's provider (outside any transaction)."""
    request = confirm_request(payment)
    return await call_one(
        registry,
        payment.provider,
        lambda provider: provider.confirm(request),
        scope=scope_of(payment),
    )


def settle_confirmation(
    changes: ChangeSet,
    payment: Payment,
    outcome: Outcome[ChargeResult],
    attempts: list[PaymentAttempt],
) -> None:
    """The provider's answer applied to a payment whose confirmation is in flight, guarded:
    it commits only if that confirmation is still in flight (a late answer after
    reconciliation settled it changes nothing). The one settle of a confirmation: the API,
    webhooks and reconciliation all come here."""
    changes.guard(payment, status=PROCESSING, pending_operation=CONFIRM)
    result, error = outcome.result, outcome.error
    if result is not None and result.status == "canceled":
        payment.pending_operation = None
        payment.next_action = None
        payment.canceled_at = clock.now()
        lifecycle.transition(changes, payment, CANCELED, attempts=attempts)
    elif result is not None:
        apply_charge(changes, payment, result, attempts)
    elif outcome.ambiguous:
        payment.updated_at = clock.now()  # reconciliation confirms again, same key
    elif isinstance(error, DeclinedError):
        apply_failure(
            changes,
            payment,
            code=CARD_DECLINED.code,
            message=error.message,
            decline_code=error.decline_code,
            attempts=attempts,
        )
    else:
        # The provider could not be asked, or refused the request: nothing changed there,
        # and the customer's action (next_action) stands.
        payment.pending_operation = None
        lifecycle.transition(changes, payment, REQUIRES_ACTION, attempts=attempts)


async def settle(
    sessions: async_sessionmaker[AsyncSession], payment: Payment, outcome: Outcome[ChargeResult]
) -> Payment:
    """Step 3: commit the attempts (whatever else happened) and the answer, if ``payment``'s
    confirmation is still in flight; returns the payment as stored."""
    changes = ChangeSet()
    attempts = lifecycle.add_attempts(
        changes.regardless,
        payment,
        operation=CONFIRM,
        idempotency_key=confirm_key(payment.id),
        records=outcome.records,
        success=answered_outcome(outcome),
    )
    settle_confirmation(changes, payment, outcome, attempts)
    if (await executor.commit(sessions, changes)).matched:
        return payment
    async with executor.unit(sessions) as step:  # settled meanwhile: what is stored
        return await get_payment(step.reads, payment.id)


async def _confirm(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    payment_id: str,
    *,
    owner: Owner | None,
    on_intent_committed: Callable[[], None] | None = None,
) -> tuple[Payment, Outcome[ChargeResult] | None]:
    payment, started = await intend(sessions, payment_id=payment_id, owner=owner)
    if not started:
        return payment, None
    if on_intent_committed is not None:
        on_intent_committed()
    outcome = await call(registry, payment)
    return await settle(sessions, payment, outcome), outcome


async def confirm_payment(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
    on_intent_committed: Callable[[], None] | None = None,
) -> dict[str, object]:
    """The merchant's confirmation (the API). Returns the payment as the API shows it to its
    owner, whatever it is now: confirming one that does not wait for the customer (any more)
    changes nothing and shows it. Raises like creation once recorded: PaymentDeclined (402)
    for a failed payment, ProviderUnavailable or the provider's refusal when it could not
    be asked (the payment still requires action)."""
    payment, outcome = await _confirm(
        sessions,
        registry,
        payment_id,
        owner=(account_id, livemode),
        on_intent_committed=on_intent_committed,
    )
    async with executor.unit(sessions) as step:
        attempts = await attempts_for(step.reads, payment_id)
        view = payment_json(payment, attempts, client_secret=True)
    raise_for_failure(payment, view)
    if outcome is not None and payment.status == REQUIRES_ACTION:
        raise_for_error(outcome, payment_id)
    return view


async def complete_customer_action(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    payment_id: str,
    *,
    trigger: str,
) -> Payment:
    """Confirm ``payment_id`` because ``trigger`` says the customer may have acted (a webhook:
    ``"webhook:payment_intent.succeeded"``; ``"reconcile"``). Safe to call for any payment,
    any number of times, concurrently: only one in ``requires_action`` is confirmed, once at
    a time, and the provider's answer decides. Returns the payment as stored; raises
    NotFound for an unknown id, nothing for a decline (it is recorded)."""
    payment, outcome = await _confirm(sessions, registry, payment_id, owner=None)
    if outcome is not None:
        log.info(
            "confirmed after the customer's action",
            extra={"payment_id": payment_id, "trigger": trigger, "status": payment.status},
        )
    return payment


async def expire(
    sessions: async_sessionmaker[AsyncSession], registry: ProviderRegistry, payment: Payment
) -> Payment:
    """Cancel an abandoned payment (still ``requires_action``) at its provider and record it
    ``canceled``; a refusal leaves it as it is (reconciliation tries again). Returns the
    payment as stored."""
    outcome = await cancel.call(registry, payment)
    try:
        return await cancel.settle(
            sessions,
            account_id=payment.account_id,
            livemode=payment.livemode,
            payment_id=payment.id,
            outcome=outcome,
        )
    except InvalidStateTransition:  # the customer's action won meanwhile
        async with executor.unit(sessions) as step:
            return await get_payment(step.reads, payment.id)
