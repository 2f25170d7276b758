"""Creating and confirming a payment, crash-safe.

1. ``prepare`` (one transaction): validate, insert the payment (``pending`` -> ``processing``,
   with the provider idempotency key), emit and audit. The caller commits: the intent is on disk.
2. ``authorize`` (no transaction): call the provider(s) with that key.
3. ``record`` (a new transaction): store the attempts and the outcome.

If the process dies between 1 and 3, the payment stays ``processing`` and reconciliation asks
the provider with the same key (``reconcile.py``), so it is settled without a second charge.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock
from kassa.core.db import transaction
from kassa.core.errors import InvalidMoney, InvalidRequest
from kassa.core.ids import new_id
from kassa.core.money import Money
from kassa.payins import fastpath, lifecycle
from kassa.payins.errors import PaymentDeclined, ProviderUnavailable
from kassa.payins.gateway import Outcome, call_with_failover
from kassa.payins.models import Customer, Payment, PaymentAttempt, PaymentMethod
from kassa.payins.repository import attempts_for, created_by_request, get_owned, lock_payment
from kassa.payins.state import FAILED, PENDING, PROCESSING, REQUIRES_CAPTURE, SUCCEEDED
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
    request_key: str | None = None  # the API Idempotency-Key, when the request had one
    resumes_since: datetime | None = None  # an earlier attempt with that key died mid-way


class ResponseStore(Protocol):
    """The API's stored answer to the request, written with the payment's result (one
    statement on PostgreSQL) when the caller gives one."""

    def change_for(self, view: dict[str, object]) -> fastpath.GuardedUpdate: ...

    def stored(self) -> None: ...

    def intent_committed(self) -> None:
        """A payment now exists for this request: from here on a retry must resume it."""


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
    )


async def prepare(session: AsyncSession, *, new: NewPayment, registry: ProviderRegistry) -> Payment:
    """Validate and insert the payment in ``processing``; nothing is written if this raises."""
    if not new.amount.is_positive():
        raise InvalidMoney(
            "The amount must be greater than zero.",
            code="amount_must_be_positive",
            param="amount.value",
        )
    method: PaymentMethod | None = None
    method_id = new.payment_method_id
    token = new.payment_method
    if token and _OUR_PM_ID.match(token):
        method_id, token = token, None
    if method_id:
        method = await get_owned(
            session,
            PaymentMethod,
            method_id,
            account_id=new.account_id,
            livemode=new.livemode,
            param="payment_method_id",
        )
        if method.detached_at is not None:
            raise InvalidRequest(
                "This payment method was deleted.",
                code="payment_method_unusable",
                param="payment_method_id",
            )
        token = method.provider_token
    if not token:
        raise InvalidRequest(
            "Give payment_method_id or payment_method (a provider token such as pm_card_visa).",
            code="parameter_missing",
            param="payment_method",
        )
    provider = new.provider or (method.provider if method else None) or registry.default
    registry.check_mode(provider, livemode=new.livemode)
    customer_id = new.customer_id
    if method is not None and method.customer_id:
        # A saved method belongs to its customer (as at Stripe): it pays for that one only.
        if customer_id and customer_id != method.customer_id:
            raise InvalidRequest(
                "This payment method is attached to another customer.",
                code="payment_method_customer_mismatch",
                param="payment_method_id",
            )
        customer_id = method.customer_id
    if customer_id:
        await get_owned(
            session,
            Customer,
            customer_id,
            account_id=new.account_id,
            livemode=new.livemode,
            param="customer_id",
        )
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
        canceled_at=None,
        created_at=now,
        updated_at=now,
    )
    session.add(payment)
    lifecycle.emit_created(session, payment)
    lifecycle.transition(session, payment, PROCESSING)
    return payment


async def authorize(registry: ProviderRegistry, payment: Payment) -> Outcome[ChargeResult]:
    """Call the provider chain for ``payment`` (outside any transaction)."""
    request = charge_request(payment)
    return await call_with_failover(
        registry,
        registry.chain(payment.provider),
        lambda name: lambda: registry.get(name).authorize(request),
    )


def apply_charge(
    session: AsyncSession,
    payment: Payment,
    result: ChargeResult,
    attempts: Sequence[PaymentAttempt],
) -> None:
    payment.provider = result.provider
    payment.provider_payment_id = result.provider_payment_id
    payment.pending_operation = None
    if payment.method_type is None and result.method is not None:
        payment.method_type = result.method.type
        payment.method_details = result.method.to_json()
    if result.status == "succeeded":
        payment.amount_captured = result.amount_captured.minor
        lifecycle.transition(session, payment, SUCCEEDED, attempts=attempts)
    else:
        payment.amount_capturable = payment.amount
        lifecycle.transition(session, payment, REQUIRES_CAPTURE, attempts=attempts)


def apply_failure(
    session: AsyncSession,
    payment: Payment,
    *,
    code: str,
    message: str,
    decline_code: str | None,
    attempts: Sequence[PaymentAttempt],
) -> None:
    payment.pending_operation = None
    payment.failure_code = code
    payment.failure_message = message[:500]
    payment.decline_code = decline_code
    lifecycle.transition(session, payment, FAILED, attempts=attempts)


def _authorize_attempts(
    session: AsyncSession, payment: Payment, outcome: Outcome[ChargeResult]
) -> list[PaymentAttempt]:
    return lifecycle.add_attempts(
        session,
        payment,
        operation="authorize",
        idempotency_key=payment.idempotency_key,
        records=outcome.records,
        success="succeeded",
    )


async def record(
    session: AsyncSession, *, payment_id: str, outcome: Outcome[ChargeResult]
) -> tuple[Payment, list[PaymentAttempt]]:
    """Store the attempts and the provider's answer. A payment that something else settled
    meanwhile (reconciliation) only gets the attempts."""
    payment = await lock_payment(session, payment_id)
    attempts = _authorize_attempts(session, payment, outcome)
    if payment.status != PROCESSING or payment.pending_operation != "authorize":
        return payment, attempts
    apply_outcome(session, payment, outcome, attempts)
    return payment, attempts


def apply_outcome(
    session: AsyncSession,
    payment: Payment,
    outcome: Outcome[ChargeResult],
    attempts: Sequence[PaymentAttempt],
) -> None:
    """The provider's answer applied to a payment still processing its authorization."""
    error = outcome.error
    if outcome.result is not None:
        apply_charge(session, payment, outcome.result, attempts)
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
            session,
            payment,
            code="card_declined",
            message=error.message,
            decline_code=error.decline_code,
            attempts=attempts,
        )
    elif error is not None:
        payment.provider = outcome.provider
        code = error.code if isinstance(error, PermanentProviderError) else "provider_unavailable"
        apply_failure(
            session, payment, code=code, message=error.message, decline_code=None, attempts=attempts
        )


async def create_and_confirm(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    new: NewPayment,
    *,
    response_store: ResponseStore | None = None,
) -> dict[str, object]:
    """The whole flow, each step in its own transaction; returns the payment as the API shows
    it, or raises PaymentDeclined / InvalidRequest / ProviderUnavailable after recording."""
    if new.request_key and new.resumes_since is not None:
        async with transaction(sessions) as session:
            earlier = await created_by_request(
                session,
                Payment,
                account_id=new.account_id,
                request_key=new.request_key,
                since=new.resumes_since,
            )
        if earlier is not None:
            if response_store is not None:
                response_store.intent_committed()
            return await _resume(sessions, registry, earlier)
    if fastpath.enabled(sessions):
        return await _create_and_confirm_fast(sessions, registry, new, response_store)
    async with transaction(sessions) as session:
        payment = await prepare(session, new=new, registry=registry)
    if response_store is not None:
        response_store.intent_committed()
    outcome = await authorize(registry, payment)
    async with transaction(sessions) as session:
        payment, attempts = await record(session, payment_id=payment.id, outcome=outcome)
        view = payment_json(payment, attempts)
    raise_for_failure(payment, view)
    return view


async def _create_and_confirm_fast(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    new: NewPayment,
    response_store: ResponseStore | None,
) -> dict[str, object]:
    """The same steps on PostgreSQL, each write one statement (see ``fastpath``)."""

    async def build(session: AsyncSession) -> Payment:
        return await prepare(session, new=new, registry=registry)

    payment: Payment = await fastpath.run_intent(sessions, build)
    if response_store is not None:
        response_store.intent_committed()
    outcome = await authorize(registry, payment)
    before = fastpath.snapshot(payment)
    collector = fastpath.Collector()
    session = collector.as_session()
    attempts = _authorize_attempts(session, payment, outcome)
    collector.added.clear()  # attempts are written whatever the compare-and-set says
    apply_outcome(session, payment, outcome, attempts)
    view = payment_json(payment, attempts)
    # A failure answers with an error the API renders later: it stores that itself.
    fold = response_store is not None and payment.status != FAILED
    also = [response_store.change_for(view)] if response_store is not None and fold else []
    statement = fastpath.result_statement(
        sessions, payment, before, collector.added, always=attempts, also=also
    )
    updated, *responded = await fastpath.run_result(sessions, statement)
    if not updated:
        # Settled meanwhile (reconciliation): show what is stored.
        async with transaction(sessions) as read:
            stored = await lock_payment(read, payment.id)
            view = payment_json(stored, await attempts_for(read, payment.id))
        raise_for_failure(stored, view)
        return view
    if response_store is not None and responded and responded[0]:
        response_store.stored()
    raise_for_failure(payment, view)
    return view


async def _resume(
    sessions: async_sessionmaker[AsyncSession], registry: ProviderRegistry, payment: Payment
) -> dict[str, object]:
    """Finish what a crashed attempt started: ask the provider again with the SAME key (the
    provider answers with the charge it already made, never a second one), or just answer."""
    if payment.status == PROCESSING and payment.pending_operation == "authorize":
        outcome = await authorize(registry, payment)
        async with transaction(sessions) as session:
            payment, attempts = await record(session, payment_id=payment.id, outcome=outcome)
            view = payment_json(payment, attempts)
    else:
        async with transaction(sessions) as session:
            view = payment_json(payment, await attempts_for(session, payment.id))
    raise_for_failure(payment, view)
    return view


def raise_for_failure(payment: Payment, view: dict[str, object]) -> None:
    if payment.status != FAILED:
        return
    details = {"payment_id": payment.id, "payment": view}
    if payment.failure_code == "card_declined":
        raise PaymentDeclined(
            payment.failure_message or "The card was declined.",
            details={**details, "decline_code": payment.decline_code},
        )
    if payment.failure_code == "provider_unavailable":
        raise ProviderUnavailable(payment.failure_message, details=details)
    raise InvalidRequest(
        payment.failure_message or "The provider refused the payment.",
        code=payment.failure_code or "provider_rejected",
        param="payment_method",
        details=details,
    )
