"""Queries: every read is scoped to the caller's account and mode (another's id is a 404)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from kassa.core.errors import NotFound
from kassa.payins.models import Customer, Dispute, Payment, PaymentAttempt, PaymentMethod, Refund

M = TypeVar("M", Payment, Refund, PaymentMethod, Customer, Dispute)
_NAMES: dict[type[Any], str] = {
    Payment: "payment",
    Refund: "refund",
    PaymentMethod: "payment method",
    Customer: "customer",
    Dispute: "dispute",
}


async def get_owned(
    session: AsyncSession,
    model: type[M],
    object_id: str,
    *,
    account_id: str,
    livemode: bool,
    for_update: bool = False,
    to_change: bool = False,
    param: str = "id",
) -> M:
    """``to_change``: the object is about to change (a payment then comes with its attempts,
    which its events show); ``for_update`` also locks its row, for a session's transaction."""
    query = select(model).where(
        model.id == object_id, model.account_id == account_id, model.livemode == livemode
    )
    if for_update:
        query = query.with_for_update()
    if (for_update or to_change) and model is Payment:
        query = query.options(selectinload(Payment.attempts))
    row = await session.scalar(query)
    if row is None:
        raise NotFound(f"No such {_NAMES[model]}: {object_id!r}.", param=param)
    return row


R = TypeVar("R", Payment, Refund)


async def created_by_request(
    session: AsyncSession, model: type[R], *, account_id: str, request_key: str, since: datetime
) -> R | None:
    """What an earlier request with this Idempotency-Key created (it died before answering);
    a payment comes with its attempts, as the request resumes changing it."""
    query = select(model).where(
        model.account_id == account_id,
        model.request_key == request_key,
        model.created_at >= since,
    )
    if model is Payment:
        query = query.options(selectinload(Payment.attempts))
    return await session.scalar(query)


async def get_payment(session: AsyncSession, payment_id: str) -> Payment:
    """A payment by id as stored now (not a copy the session read earlier), with its
    attempts: ready to change (its events show them) or to show."""
    query = (
        select(Payment)
        .where(Payment.id == payment_id)
        .options(selectinload(Payment.attempts))
        .execution_options(populate_existing=True)
    )
    row = await session.scalar(query)
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
