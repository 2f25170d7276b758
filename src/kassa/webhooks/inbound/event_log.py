"""Reading an account's inbound events, and running one again.

An account sees the events of its own credentials and the events of the install's default
credentials that processing attributed to it (``account_id`` set): both are the rows with its
``account_id``. Events of the default credentials not attributed to any account are nobody's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.core import audit, clock
from kassa.core.db import transaction
from kassa.core.error_catalog import RESOURCE_MISSING
from kassa.jobs import enqueue
from kassa.webhooks.inbound.models import RECEIVED, InboundEvent
from kassa.webhooks.inbound.store import JOB_ARG, apply_job_of


def events_query(
    *,
    account_id: str,
    livemode: bool,
    provider: str | None = None,
    event_type: str | None = None,
    status: str | None = None,
) -> Select[InboundEvent]:
    query = select(InboundEvent).where(
        InboundEvent.account_id == account_id, InboundEvent.livemode == livemode
    )
    if provider is not None:
        query = query.where(InboundEvent.provider == provider)
    if event_type is not None:
        query = query.where(InboundEvent.event_type == event_type)
    if status is not None:
        query = query.where(InboundEvent.status == status)
    return query


async def get_event(
    session: AsyncSession, *, account_id: str, livemode: bool, event_id: str
) -> InboundEvent:
    query = events_query(account_id=account_id, livemode=livemode).where(
        InboundEvent.id == event_id
    )
    found = await session.scalar(query)
    if found is None:
        raise RESOURCE_MISSING(f"No inbound event {event_id}.", param="id")
    return found


async def reprocess(
    session: AsyncSession, *, account_id: str, livemode: bool, event_id: str
) -> InboundEvent:
    """The event back to ``received`` with its processing job queued again (in the caller's
    transaction). Processing is idempotent: an event already applied changes nothing twice."""
    event = await get_event(session, account_id=account_id, livemode=livemode, event_id=event_id)
    before = {"status": event.status}
    event.status, event.error = RECEIVED, None
    enqueue(session, apply_job_of(event.provider), {JOB_ARG: event.id})
    audit.record(
        session,
        action="inbound_event.reprocess",
        object_type="inbound_event",
        object_id=event.id,
        account_id=account_id,
        before=before,
        after={"status": RECEIVED},
    )
    return event


async def record_processing(
    sessions: async_sessionmaker[AsyncSession],
    event_id: str,
    *,
    status: str,
    error: str | None,
    object_id: str | None,
    attribute_to: str | None = None,
) -> None:
    """What processing an event came to, one more attempt counted; ``attribute_to``: the
    account an event of the install's credentials turned out to be about (it then lists it)."""
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "object_id": object_id,
        "attempts": InboundEvent.attempts + 1,
        "processed_at": clock.now(),
    }
    if attribute_to:
        values["account_id"] = attribute_to
    async with transaction(sessions) as session:
        await session.execute(
            update(InboundEvent).where(InboundEvent.id == event_id).values(**values)
        )
