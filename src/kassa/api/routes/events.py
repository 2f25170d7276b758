"""The event log: events, their webhook deliveries, replay; and the catalog of event types."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from kassa.api.deps import ReadAccess, Session, WriteAccess
from kassa.api.pagination import ListResponse, Page, fetch_page
from kassa.api.times import TIME_FILTER, UtcTime
from kassa.jobs.catalog import all_event_types
from kassa.jobs.models import Event
from kassa.jobs.schemas import EventTypeOut
from kassa.webhooks.outbound import event_log, replay
from kassa.webhooks.outbound.schemas import DeliveryOut, EventOut

router = APIRouter(prefix="/v1", tags=["events"])


class Replay(BaseModel):
    model_config = ConfigDict(extra="forbid")
    webhook_endpoint: str = Field(description="The endpoint to send the event to (we_...).")


@router.get("/events", response_model=ListResponse[EventOut], summary="List events, newest first")
async def list_events(
    principal: ReadAccess,
    session: Session,
    page: Page,
    type: str | None = Query(None, max_length=100, description="A type or `payment.*`."),
    created_gte: UtcTime | None = Query(None, description="Created at or after. " + TIME_FILTER),
    created_lt: UtcTime | None = Query(None, description="Created before. " + TIME_FILTER),
) -> ListResponse[EventOut]:
    query = event_log.events_query(
        account_id=principal.require_account(),
        livemode=principal.livemode,
        type_pattern=type,
        created_gte=created_gte,
        created_lt=created_lt,
    )
    rows, more = await fetch_page(session, query, Event.id, page)
    return ListResponse(data=[EventOut.of(e) for e in rows], has_more=more)


@router.get(
    "/events/{event_id}",
    response_model=EventOut,
    summary="Retrieve an event with its webhook deliveries and their attempts",
)
async def retrieve_event(event_id: str, principal: ReadAccess, session: Session) -> EventOut:
    event = await event_log.get_event(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        event_id=event_id,
    )
    found = await event_log.deliveries_of_event(session, event.id)
    return EventOut.of(event, [DeliveryOut.of(d, attempts) for d, attempts in found])


@router.post(
    "/events/{event_id}/replay",
    response_model=DeliveryOut,
    status_code=202,
    summary="Send the event again to one endpoint (same webhook-id, fresh signature)",
)
async def replay_event(
    event_id: str, body: Replay, principal: WriteAccess, session: Session
) -> DeliveryOut:
    delivery = await replay.replay_event(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        event_id=event_id,
        endpoint_id=body.webhook_endpoint,
    )
    return DeliveryOut.of(delivery)


@router.get(
    "/event_types",
    response_model=ListResponse[EventTypeOut],
    summary="Every event type kassa sends, with an example of its data",
)
async def list_event_types(_: ReadAccess) -> ListResponse[EventTypeOut]:
    return ListResponse(data=[EventTypeOut.of(e) for e in all_event_types()], has_more=False)
