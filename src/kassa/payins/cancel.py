"""Canceling a payment that was not captured; an authorization is released at the provider.

The release is called first (key ``pay_.../cancel``, safe to repeat) and the cancellation
recorded after, so a crash in between leaves an authorized payment the merchant can cancel
again. A captured payment cannot be canceled: refund it.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import clock
from kassa.core.db import transaction
from kassa.core.errors import InvalidStateTransition
from kassa.payins import lifecycle
from kassa.payins.capture import raise_for_error
from kassa.payins.gateway import Outcome, call_one
from kassa.payins.models import Payment
from kassa.payins.repository import attempts_for, get_owned
from kassa.payins.state import CANCELED, PENDING, REQUIRES_CAPTURE
from kassa.payins.views import payment_json
from kassa.providers.base import CancelRequest, ChargeResult
from kassa.providers.registry import ProviderRegistry

CANCELABLE = frozenset({PENDING, REQUIRES_CAPTURE})


def cancel_key(payment_id: str) -> str:
    return f"{payment_id}/cancel"


async def check(
    session: AsyncSession, *, account_id: str, livemode: bool, payment_id: str, lock: bool = False
) -> Payment:
    payment = await get_owned(
        session, Payment, payment_id, account_id=account_id, livemode=livemode, for_update=lock
    )
    if payment.status not in CANCELABLE:
        raise InvalidStateTransition(
            f"A payment that is {payment.status} cannot be canceled"
            + ("; refund it instead." if payment.amount_captured else "."),
            code="payment_not_cancelable",
            details={"current_status": payment.status},
        )
    return payment


async def record(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
    outcome: Outcome[ChargeResult] | None,
) -> Payment:
    payment = await check(
        session, account_id=account_id, livemode=livemode, payment_id=payment_id, lock=True
    )
    attempts = []
    if outcome is not None:
        attempts = lifecycle.add_attempts(
            session,
            payment,
            operation="cancel",
            idempotency_key=cancel_key(payment.id),
            records=outcome.records,
            success="canceled",
        )
        if outcome.error is not None:
            return payment
    payment.amount_capturable = 0
    payment.canceled_at = clock.now()
    lifecycle.transition(session, payment, CANCELED, attempts=attempts)
    return payment


async def cancel_payment(
    sessions: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    *,
    account_id: str,
    livemode: bool,
    payment_id: str,
) -> dict[str, object]:
    async with transaction(sessions) as session:
        payment = await check(
            session, account_id=account_id, livemode=livemode, payment_id=payment_id
        )
    outcome: Outcome[ChargeResult] | None = None
    if payment.status == REQUIRES_CAPTURE:
        request = CancelRequest(cancel_key(payment.id), payment.provider_payment_id or "")
        provider = registry.get(payment.provider)
        outcome = await call_one(registry, payment.provider, lambda: provider.cancel(request))
    async with transaction(sessions) as session:
        payment = await record(
            session,
            account_id=account_id,
            livemode=livemode,
            payment_id=payment_id,
            outcome=outcome,
        )
        view = payment_json(payment, await attempts_for(session, payment_id))
    if outcome is not None:
        raise_for_error(outcome, payment_id)
    return view
