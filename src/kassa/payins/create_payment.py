"""Creating and confirming a payment, crash-safe, in the three steps of every provider call.

1. ``intend``: validate, and commit the payment (``pending`` -> ``processing``, with the
   provider idempotency key) with its events and audit entries: the intent is on disk.
2. ``call``: call the provider(s) with that key, outside any transaction.
3. ``settle``: commit the attempts and the outcome (``settle_authorization``), guarded: only
   a payment still processing its authorization changes.

If the process dies between 1 and 3, the payment stays ``processing`` and reconciliation asks
the provider with the same key and settles it with the same ``settle_authorization``
(``reconcile.py``), so it is settled without a second charge. Each step that writes describes
a change set that ``core.executor`` commits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock, executor
from kassa.core.changes import ChangeSet, RowUpdate, Writes
from kassa.core.ids import new_id
from kassa.core.money import Money
from kassa.payins import lifecycle
from kassa.payins.errors import (
    AMOUNT_MUST_BE_POSITIVE,
    CARD_DECLINED,
    PARAMETER_MISSING,
    PAYMENT_METHOD_CUSTOMER_MISMATCH,
    PAYMENT_METHOD_UNUSABLE,
    PROVIDER_UNAVAILABLE,
    PaymentDeclined,
    ProviderUnavailable,
    refused_by_provider,
)
from kassa.payins.gateway import Outcome, admit, call_with_failover, scope_of
from kassa.payins.models import Customer, Payment, PaymentAttempt, PaymentMethod
from kassa.payins.repository import attempts_for, created_by_request, get_owned, get_payment
from kassa.payins.state import (
    FAILED,
    PENDING,
    PROCESSING,
    REQUIRES_ACTION,
    REQUIRES_CAPTURE,
    SUCCEEDED,
)
from kassa.payins.views import payment_json
from kassa.providers.base import (
    ChargeRequest,
    ChargeResult,
    DeclinedError,
    PermanentProviderError,
)
from kassa.providers.registry import ProviderRegistry

_OUR_PM_ID = re.compile(r"^pm_[0-9A-HJKMNP-TV-Z]{26}$")


@dataclass(frozen=True)
class NewPayment:
    account_id: str
    livemode: bool
    amount: Money
    payment_method_id: str | None = None
    payment_method: str | None = None  # a provider token such as pm_card_visa
    customer_id: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    capture: bool = True
    provider: str | None = None
    return_url: str | None = None  # checked by the caller (``return_urls.check_return_url``)
    request_key: str | None = None  # the API Idempotency-Key, when the request had one
    resumes_since: datetime | None = None  # an earlier attempt with that key died mid-way


class ResponseStore(Protocol):
    """The API's stored answer to the request, written with the payment's result (it rides
    along with the result's change set) when the caller gives one."""

    def change_for(self, view: dict[str, object]) -> RowUpdate: ...

    def stored(self) -> None: ...

    def intent_committed(self) -> None:
        """A payment now exists for this request: from here on its outcome is remembered
        (a decline too) and a retry resumes it. A refusal before this changed nothing."""


def authorize_key(payment_id: str) -> str:
    return f"{payment_id}/authorize"


def charge_request(payment: Payment) -> ChargeRequest:
    return ChargeRequest(
        idempotency_key=payment.idempotency_key,
        amount=Money(payment.amount, payment.currency),
        payment_method=payment.payment_method_token,
        capture=payment.capture,
        customer_reference=payment.customer_id,
        description=payment.description,
        metadata=dict(payment.metadata_),
        return_url=payment.return_url,
    )


async def describe_intent(
    step: executor.Unit, changes: Writes, *, new: NewPayment, registry: ProviderRegistry
) -> Payment:
    """Validate (reading through ``step.reads``, only if a saved method or a customer is
    named: most payments read nothing) and describe the payment in ``processing``, with its
    events and audit entries, in ``changes``; nothing is described if this raises."""
    if not new.amount.is_positive():
        raise AMOUNT_MUST_BE_POSITIVE(
            "The amount must be greater than zero.",
            param="amount.value",
        )
    method: PaymentMethod | None = None
    method_id = new.payment_method_id
    token = new.payment_method
    if token and _OUR_PM_ID.match(token):
        method_id, token = token, None
    if method_id:
        method = await get_owned(
            step.reads,
            PaymentMethod,
            method_id,
            account_id=new.account_id,
            livemode=new.livemode,
            param="payment_method_id",
        )
        if method.detached_at is not None:
            raise PAYMENT_METHOD_UNUSABLE(
                "This payment method was deleted.",
                param="payment_method_id",
            )
        token = method.provider_token
    if not token:
        raise PARAMETER_MISSING(
            "Give payment_method_id or payment_method (a provider token such as pm_card_visa).",
            param="payment_method",
        )
    provider = new.provider or (method.provider if method else None) or registry.default
    registry.check_mode(provider, livemode=new.livemode)
    customer_id = new.customer_id
    if method is not None and method.customer_id:
        # A saved method belongs to its customer (as at Stripe): it pays for that one only.
        if customer_id and customer_id != method.customer_id:
            raise PAYMENT_METHOD_CUSTOMER_MISMATCH(
                "This payment method is attached to another customer.",
                param="payment_method_id",
            )
        customer_id = method.customer_id
    if customer_id:
        await get_owned(
            step.reads,
            Customer,
            customer_id,
            account_id=new.account_id,
            livemode=new.livemode,
            param="customer_id",
        )
    # No credentials of the provider for this account and mode: refused, nothing written.
    route = await registry.route(provider, scope_of(new))
    # An open circuit refuses here, before anything is written; no await from here to
    # ``created_at``, the moment of admission that the authorization call honours.
    admit(registry, route)
    now = clock.now()
    payment_id = new_id("pay")
    payment = Payment(
        id=payment_id,
        account_id=new.account_id,
        livemode=new.livemode,
        status=PENDING,
        currency=new.amount.currency,
        amount=new.amount.minor,
        amount_capturable=0,
        amount_captured=0,
        amount_refunded=0,
        amount_refund_pending=0,
        capture=new.capture,
        customer_id=customer_id,
        payment_method_id=method.id if method else None,
        payment_method_token=token,
        method_type=method.type if method else None,
        method_details=method.details if method else None,
        description=new.description,
        metadata_=dict(new.metadata),
        provider=provider,
        provider_payment_id=None,
        idempotency_key=authorize_key(payment_id),
        request_key=new.request_key,
        pending_operation="authorize",
        pending_amount=None,
        failure_code=None,
        failure_message=None,
        decline_code=None,
        next_action=None,
        return_url=new.return_url,
        canceled_at=None,
        created_at=now,
        updated_at=now,
    )
    changes.add(payment)
    lifecycle.emit_created(changes, payment)
    lifecycle.transition(changes, payment, PROCESSING)
    return payment


async def intend(
    sessions: async_sessionmaker[AsyncSession], *, new: NewPayment, registry: ProviderRegistry
) -> Payment:
    """Step 1: commit the payment's intent; returns the payment as committed."""
    async with executor.unit(sessions) as step:
        changes = ChangeSet()
        payment = await describe_intent(step, changes, new=new, registry=registry)
        await step.commit(changes)
    return payment


async def call(registry: ProviderRegistry, payment: Payment) -> Outcome[ChargeResult]:
    """Step 2: call the provider chain for ``payment`` (outside any transaction)."""
    request = charge_request(payment)
    return await call_with_failover(
        registry,
        payment.provider,
        lambda provider: provider.authorize(request),
        scope=scope_of(payment),
        admitted_at=payment.created_at,
    )


def apply_charge(
    session: Writes,
    payment: Payment,
    result: ChargeResult,
    attempts: Sequence[PaymentAttempt],
) -> None:
    """A provider's charge (authorized, captured, or waiting for the customer) applied to a
    payment whose authorization or confirmation was in flight."""
    payment.provider = result.provider
    payment.provider_payment_id = result.provider_payment_id
    payment.pending_operation = None
    payment.next_action = None
    if payment.method_type is None and result.method is not None:
        payment.method_type = result.method.type
        payment.method_details = result.method.to_json()
    if result.status == "requires_action":
        # Nothing is authorized until the customer acts (confirm.py finishes it).
        payment.next_action = result.next_action.to_json() if result.next_action else None
        lifecycle.transition(session, payment, REQUIRES_ACTION, attempts=attempts)
    elif result.status == "succeeded":
        payment.amount_captured = result.amount_captured.minor
        lifecycle.transition(session, payment, SUCCEEDED, attempts=attempts)
    else:
        payment.amount_capturable = payment.amount
        lifecycle.transition(session, payment, REQUIRES_CAPTURE, attempts=attempts)


def apply_failure(
    session: Writes,
    payment: Payment,
    *,
    code: str,
    message: str,
    decline_code: str | None,
    attempts: Sequence[PaymentAttempt],
) -> None:
    payment.pending_operation = None
    payment.next_action = None
    payment.failure_code = code
    payment.failure_message = message[:500]
    payment.decline_code = decline_code
    lifecycle.transition(session, payment, FAILED, attempts=attempts)


def _authorize_attempts(
    session: Writes, payment: Payment, outcome: Outcome[ChargeResult]
) -> list[PaymentAttempt]:
    return lifecycle.add_attempts(
        session,
        payment,
        operation="authorize",
        idempotency_key=payment.idempotency_key,
        records=outcome.records,
        success=answered_outcome(outcome),
    )


def answered_outcome(outcome: Outcome[ChargeResult]) -> str:
    """An answered call's attempt outcome: ``requires_action`` when the charge waits for the
    customer, ``succeeded`` when it was made (authorized or captured)."""
    waiting = outcome.result is not None and outcome.result.status == "requires_action"
    return "requires_action" if waiting else "succeeded"


def settle_authorization(
    changes: ChangeSet,
    payment: Payment,
    outcome: Outcome[ChargeResult],
    attempts: Sequence[PaymentAttempt],
) -> None:
    """The provider's answer applied to a payment processing its authorization, guarded: the
    change commits only if the payment is still processing it (a late answer after
    reconciliation settled it, or reconciliation after the answer, changes nothing). The one
    settle of an authorization: ``settle`` and reconciliation both use it."""
    changes.guard(payment, status=PROCESSING, pending_operation="authorize")
    error = outcome.error
    if outcome.result is not None:
        apply_charge(changes, payment, outcome.result, attempts)
    elif outcome.ambiguous:
        payment.provider = outcome.provider
        payment.updated_at = clock.now()
    elif isinstance(error, DeclinedError):
        payment.provider = outcome.provider
        payment.provider_payment_id = error.provider_payment_id
        if payment.method_type is None and error.method is not None:
            payment.method_type = error.method.type  # which card was declined
            payment.method_details = error.method.to_json()
        apply_failure(
            changes,
            payment,
            code=CARD_DECLINED.code,
            message=error.message,
            decline_code=error.decline_code,
            attempts=attempts,
        )
    elif error is not None:
        payment.provider = outcome.provider
        code = (
            error.code if isinstance(error, PermanentProviderError) else PROVIDER_UNAVAILABLE.code
        )
        apply_failure(
            changes, payment, code=code, message=error.message, decline_code=None, attempts=attempts
        )


async def settle(
    sessions: async_sessionmaker[AsyncSession],
    payment: Payment,
    outcome: Outcome[ChargeResult],
    *,
    response_store: ResponseStore | None = None,
) -> dict[str, object]:
    """Step 3: commit the attempts (whatever else happened) and the outcome; returns the
    payment as the API shows it, or raises PaymentDeclined / InvalidRequest /
    ProviderUnavailable once that is committed."""
    changes = ChangeSet()
    attempts = _authorize_attempts(changes.regardless, payment, outcome)
    settle_authorization(changes, payment, outcome, attempts)
    view = payment_json(payment, attempts, client_secret=True)  # the merchant's answer
    # A failure answers with an error the API renders later: it stores that itself.
    ride: int | None = None
    if response_store is not None and payment.status != FAILED:
        ride = changes.ride_along(response_store.change_for(view))
    committed = await executor.commit(sessions, changes)
    if not committed.matched:
        # Settled meanwhile (reconciliation): show what is stored.
        async with executor.unit(sessions) as step:
            stored = await get_payment(step.reads, payment.id)
            attempts_now = await attempts_for(step.reads, payment.id)
            view = payment_json(stored, attempts_now, client_secret=True)
        raise_for_failure(stored, view)
        return view
    if response_store is not None and ride is not None and committed.also[ride]:
        response_store.stored()
    raise_for_failure(payment, view)
    return view


async def create_and_confirm(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    new: NewPayment,
    *,
    response_store: ResponseStore | None = None,
) -> dict[str, object]:
    """The three steps; returns the payment as the API shows it, or raises PaymentDeclined /
    InvalidRequest / ProviderUnavailable after recording."""
    if new.request_key and new.resumes_since is not None:
        async with executor.unit(sessions) as step:
            earlier = await created_by_request(
                step.reads,
                Payment,
                account_id=new.account_id,
                request_key=new.request_key,
                since=new.resumes_since,
            )
        if earlier is not None:
            if response_store is not None:
                response_store.intent_committed()
            return await _resume(sessions, registry, earlier, response_store)
    payment = await intend(sessions, new=new, registry=registry)
    if response_store is not None:
        response_store.intent_committed()
    outcome = await call(registry, payment)
    return await settle(sessions, payment, outcome, response_store=response_store)


async def _resume(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    payment: Payment,
    response_store: ResponseStore | None,
) -> dict[str, object]:
    """Finish what a crashed attempt started: ask the provider again with the SAME key (the
    provider answers with the charge it already made, never a second one), or just answer."""
    if payment.status == PROCESSING and payment.pending_operation == "authorize":
        outcome = await call(registry, payment)
        return await settle(sessions, payment, outcome, response_store=response_store)
    async with executor.unit(sessions) as step:
        attempts = await attempts_for(step.reads, payment.id)
        view = payment_json(payment, attempts, client_secret=True)
    raise_for_failure(payment, view)
    return view


def raise_for_failure(payment: Payment, view: dict[str, object]) -> None:
    if payment.status != FAILED:
        return
    details = {"payment_id": payment.id, "payment": view}
    if payment.failure_code == CARD_DECLINED.code:
        raise PaymentDeclined(
            payment.failure_message or "The card was declined.",
            details={**details, "decline_code": payment.decline_code},
        )
    if payment.failure_code == PROVIDER_UNAVAILABLE.code:
        raise ProviderUnavailable(payment.failure_message, details=details)
    raise refused_by_provider(payment.failure_code)(
        payment.failure_message or "The provider refused the payment.",
        param="payment_method",
        details=details,
    )
