"""Inbound events: what the providers sent (verified and stored), and running one again."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from kassa.api.deps import ReadAccess, Session, WriteAccess
from kassa.api.pagination import ListResponse, Page, fetch_page
from kassa.webhooks.inbound import event_log
from kassa.webhooks.inbound.models import InboundEvent
from kassa.webhooks.inbound.schemas import InboundEventOut

router = APIRouter(prefix="/v1", tags=["inbound events"])

Provider = Literal["stripe", "paypal", "braintree"]
Status = Literal["received", "processed", "ignored", "unknown_object", "failed"]


@router.get(
    "/inbound_events",
    response_model=ListResponse[InboundEventOut],
    summary="List the provider webhooks received, newest first",
)
async def list_inbound_events(
    principal: ReadAccess,
    session: Session,
    page: Page,
    provider: Provider | None = Query(None, description="Only this provider's events."),
    type: str | None = Query(None, max_length=100, description="Only this event type."),
    status: Status | None = Query(None, description="Only events in this processing status."),
) -> ListResponse[InboundEventOut]:
    query = event_log.events_query(
        account_id=principal.require_account(),
        livemode=principal.livemode,
        provider=provider,
        event_type=type,
        status=status,
    )
    rows, more = await fetch_page(session, query, InboundEvent.id, page)
    return ListResponse(data=[InboundEventOut.of(e) for e in rows], has_more=more)


@router.get(
    "/inbound_events/{inbound_event_id}",
    response_model=InboundEventOut,
    summary="Retrieve a provider webhook received",
)
async def retrieve_inbound_event(
    inbound_event_id: str, principal: ReadAccess, session: Session
) -> InboundEventOut:
    event = await event_log.get_event(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        event_id=inbound_event_id,
    )
    return InboundEventOut.of(event)


@router.post(
    "/inbound_events/{inbound_event_id}/reprocess",
    response_model=InboundEventOut,
    status_code=202,
    summary="Process a received provider webhook again (its status back to received)",
)
async def reprocess_inbound_event(
    inbound_event_id: str, principal: WriteAccess, session: Session
) -> InboundEventOut:
    event = await event_log.reprocess(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        event_id=inbound_event_id,
    )
    return InboundEventOut.of(event)
