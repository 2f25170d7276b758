"""The event log: an account's events, and the deliveries and attempts of one event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core.errors import NotFound
from kassa.jobs.models import Event
from kassa.webhooks.outbound.models import WebhookAttempt, WebhookDelivery


def events_query(
    *,
    account_id: str,
    livemode: bool,
    type_pattern: str | None = None,
    created_gte: datetime | None = None,
    created_lt: datetime | None = None,
) -> Select[Event]:
    """``type_pattern`` is an event type or a wildcard such as ``payment.*``."""
    query = select(Event).where(Event.account_id == account_id, Event.livemode == livemode)
    if type_pattern:
        if "*" in type_pattern:
            like = type_pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Event.type.like(like.replace("*", "%"), escape="\\"))
        else:
            query = query.where(Event.type == type_pattern)
    if created_gte is not None:
        query = query.where(Event.created_at >= created_gte)
    if created_lt is not None:
        query = query.where(Event.created_at < created_lt)
    return query


async def get_event(
    session: AsyncSession, *, account_id: str, livemode: bool, event_id: str
) -> Event:
    event = await session.scalar(
        select(Event).where(
            Event.id == event_id, Event.account_id == account_id, Event.livemode == livemode
        )
    )
    if event is None:
        raise NotFound(f"No event {event_id!r}.", param="id")
    return event


async def deliveries_of_event(
    session: AsyncSession, event_id: str
) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
    deliveries = (
        await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.event_id == event_id)
            .order_by(WebhookDelivery.created_at)
        )
    ).all()
    attempts = await attempts_of(session, [d.id for d in deliveries])
    return [(d, [a for a in attempts if a.delivery_id == d.id]) for d in deliveries]


async def attempts_of(session: AsyncSession, delivery_ids: list[str]) -> Sequence[WebhookAttempt]:
    if not delivery_ids:
        return []
    return (
        await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(delivery_ids))
            .order_by(WebhookAttempt.id)
        )
    ).all()


def deliveries_query(*, endpoint_id: str, status: str | None = None) -> Select[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    return query
