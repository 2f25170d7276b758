"""Queries: every read is scoped to the caller's account and mode (another's id is a 404)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core.errors import NotFound
from kassa.payins.models import Customer, Payment, PaymentAttempt, PaymentMethod, Refund

M = TypeVar("M", Payment, Refund, PaymentMethod, Customer)
_NAMES: dict[type[Any], str] = {
    Payment: "payment",
    Refund: "refund",
    PaymentMethod: "payment method",
    Customer: "customer",
}


async def get_owned(
    session: AsyncSession,
    model: type[M],
    object_id: str,
    *,
    account_id: str,
    livemode: bool,
    for_update: bool = False,
    param: str = "id",
) -> M:
    query = select(model).where(
        model.id == object_id, model.account_id == account_id, model.livemode == livemode
    )
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise NotFound(f"No such {_NAMES[model]}: {object_id!r}.", param=param)
    return row


R = TypeVar("R", Payment, Refund)


async def created_by_request(
    session: AsyncSession, model: type[R], *, account_id: str, request_key: str, since: datetime
) -> R | None:
    """What an earlier request with this Idempotency-Key created (it died before answering)."""
    return await session.scalar(
        select(model).where(
            model.account_id == account_id,
            model.request_key == request_key,
            model.created_at >= since,
        )
    )


async def lock_payment(session: AsyncSession, payment_id: str) -> Payment:
    row = await session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
    if row is None:
        raise NotFound(f"No such payment: {payment_id!r}.")
    return row


async def attempts_for(session: AsyncSession, payment_id: str) -> Sequence[PaymentAttempt]:
    query = (
        select(PaymentAttempt)
        .where(PaymentAttempt.payment_id == payment_id)
        .order_by(PaymentAttempt.id)
    )
    return (await session.scalars(query)).all()
