"""Reading what outbound webhooks recorded."""

from __future__ import annotations

from sqlalchemy import select

from kassa.jobs.models import QUEUED, Event, Job
from kassa.webhooks.outbound.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.conftest import Backend


async def deliveries(db: Backend, endpoint_id: str | None = None) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(WebhookDelivery.created_at)
    if endpoint_id:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    async with db.sessions() as session:
        return list((await session.scalars(query)).all())


async def attempts(db: Backend, delivery_id: str | None = None) -> list[WebhookAttempt]:
    query = select(WebhookAttempt).order_by(WebhookAttempt.id)
    if delivery_id:
        query = query.where(WebhookAttempt.delivery_id == delivery_id)
    async with db.sessions() as session:
        return list((await session.scalars(query)).all())


async def endpoint(db: Backend, endpoint_id: str) -> WebhookEndpoint:
    async with db.sessions() as session:
        found = await session.get(WebhookEndpoint, endpoint_id)
    assert found is not None
    return found


async def events_of_type(db: Backend, event_type: str) -> list[Event]:
    async with db.sessions() as session:
        rows = await session.scalars(select(Event).where(Event.type == event_type))
        return list(rows.all())


async def queued_jobs(db: Backend, name: str) -> list[Job]:
    async with db.sessions() as session:
        rows = await session.scalars(select(Job).where(Job.name == name, Job.status == QUEUED))
        return list(rows.all())
