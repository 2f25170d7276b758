"""Webhook endpoints: where a merchant's events are POSTed, signed with the endpoint's secret."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from kassa.api.deps import ReadAccess, ReadWriteAccess, Session, State, WriteAccess
from kassa.api.pagination import ListResponse, Page, fetch_page
from kassa.api.times import TIME_FILTER, UtcTime
from kassa.webhooks.outbound import endpoints, event_log, replay
from kassa.webhooks.outbound.config import OutboundConfig
from kassa.webhooks.outbound.models import WebhookDelivery, WebhookEndpoint
from kassa.webhooks.outbound.schemas import (
    DeletedEndpointOut,
    DeliveryOut,
    EndpointOut,
    RecoverOut,
)

router = APIRouter(prefix="/v1/webhook_endpoints", tags=["webhooks"])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointCreate(Strict):
    url: str = Field(max_length=2048, description="https URL that receives the events.")
    enabled_events: list[str] = Field(
        default_factory=lambda: ["*"],
        max_length=200,
        description="Event types or wildcards (`*`, `payment.*`).",
    )
    description: str | None = Field(None, max_length=500)


class EndpointUpdate(Strict):
    url: str | None = Field(None, max_length=2048)
    enabled_events: list[str] | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=500)
    enabled: StrictBool | None = None


class RotateSecret(Strict):
    expires_in_seconds: StrictInt | None = Field(
        None,
        ge=0,
        le=7 * 86400,
        description="How long the old secret keeps signing too (default 24 h).",
    )


class Recover(Strict):
    since: UtcTime = Field(
        description="Failed deliveries created since then (at most 14 days). " + TIME_FILTER
    )
    until: UtcTime | None = Field(None, description="And created before then. " + TIME_FILTER)


@router.post("", response_model=EndpointOut, status_code=201, summary="Create a webhook endpoint")
async def create_webhook_endpoint(
    body: EndpointCreate, principal: ReadWriteAccess, session: Session, state: State
) -> EndpointOut:
    issued = await endpoints.create_endpoint(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        url=body.url,
        enabled_events=body.enabled_events,
        description=body.description,
        config=OutboundConfig.from_settings(state.settings),
        box=endpoints.secret_box(state.settings.secret_key_bytes()),
    )
    return EndpointOut.of(issued.endpoint, issued.secret)


@router.get("", response_model=ListResponse[EndpointOut], summary="List webhook endpoints")
async def list_webhook_endpoints(
    principal: ReadAccess,
    session: Session,
    page: Page,
) -> ListResponse[EndpointOut]:
    query = endpoints.list_query(principal.require_account(), principal.livemode)
    rows, more = await fetch_page(session, query, WebhookEndpoint.id, page)
    return ListResponse(data=[EndpointOut.of(e) for e in rows], has_more=more)


@router.get("/{endpoint_id}", response_model=EndpointOut, summary="Retrieve a webhook endpoint")
async def retrieve_webhook_endpoint(
    endpoint_id: str, principal: ReadAccess, session: Session
) -> EndpointOut:
    endpoint = await endpoints.get_endpoint(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        endpoint_id=endpoint_id,
    )
    return EndpointOut.of(endpoint)


async def _update(
    endpoint_id: str,
    body: EndpointUpdate,
    principal: ReadWriteAccess,
    session: Session,
    state: State,
) -> EndpointOut:
    endpoint = await endpoints.update_endpoint(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        endpoint_id=endpoint_id,
        changes=body.model_dump(exclude_unset=True),
        config=OutboundConfig.from_settings(state.settings),
    )
    return EndpointOut.of(endpoint)


_UPDATE_SUMMARY = "Update a webhook endpoint (url, enabled_events, description, enabled)"
router.add_api_route(  # POST is the verb, as at Stripe
    "/{endpoint_id}",
    _update,
    methods=["POST"],
    response_model=EndpointOut,
    name="update_webhook_endpoint",
    operation_id="update_webhook_endpoint",
    summary=_UPDATE_SUMMARY,
)
router.add_api_route(  # an alias for REST clients
    "/{endpoint_id}",
    _update,
    methods=["PATCH"],
    response_model=EndpointOut,
    name="update_webhook_endpoint_patch",
    operation_id="update_webhook_endpoint_patch",
    summary=f"{_UPDATE_SUMMARY} (PATCH: an alias of POST)",
    deprecated=True,
)


@router.delete(
    "/{endpoint_id}", response_model=DeletedEndpointOut, summary="Delete a webhook endpoint"
)
async def delete_webhook_endpoint(
    endpoint_id: str, principal: WriteAccess, session: Session
) -> DeletedEndpointOut:
    endpoint = await endpoints.delete_endpoint(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        endpoint_id=endpoint_id,
    )
    return DeletedEndpointOut.of(endpoint)


@router.post(
    "/{endpoint_id}/rotate_secret",
    response_model=EndpointOut,
    summary="Rotate the signing secret (the old one keeps signing during a grace period)",
)
async def rotate_webhook_endpoint_secret(
    endpoint_id: str,
    principal: WriteAccess,
    session: Session,
    state: State,
    body: RotateSecret | None = None,
) -> EndpointOut:
    config = OutboundConfig.from_settings(state.settings)
    seconds = body.expires_in_seconds if body and body.expires_in_seconds is not None else None
    issued = await endpoints.rotate_secret(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        endpoint_id=endpoint_id,
        grace=config.secret_grace if seconds is None else timedelta(seconds=seconds),
        box=endpoints.secret_box(state.settings.secret_key_bytes()),
    )
    return EndpointOut.of(issued.endpoint, issued.secret)


@router.post(
    "/{endpoint_id}/test",
    response_model=DeliveryOut,
    status_code=202,
    summary="Send a webhook_endpoint.ping event to this endpoint",
)
async def test_webhook_endpoint(
    endpoint_id: str, principal: WriteAccess, session: Session
) -> DeliveryOut:
    delivery = await replay.send_test(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        endpoint_id=endpoint_id,
    )
    return DeliveryOut.of(delivery)


@router.post(
    "/{endpoint_id}/recover",
    response_model=RecoverOut,
    status_code=202,
    summary="Send again every failed delivery since a time (at most 14 days ago)",
)
async def recover_webhook_endpoint(
    endpoint_id: str, body: Recover, principal: WriteAccess, session: Session
) -> RecoverOut:
    count = await replay.recover_failed(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        endpoint_id=endpoint_id,
        since=body.since,
        until=body.until,
    )
    return RecoverOut(webhook_endpoint=endpoint_id, queued=count)


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=ListResponse[DeliveryOut],
    summary="The endpoint's deliveries, newest first",
)
async def list_webhook_deliveries(
    endpoint_id: str,
    principal: ReadAccess,
    session: Session,
    page: Page,
    status: Literal["pending", "succeeded", "failed"] | None = Query(None),
) -> ListResponse[DeliveryOut]:
    endpoint = await endpoints.get_endpoint(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        endpoint_id=endpoint_id,
    )
    query = event_log.deliveries_query(endpoint_id=endpoint.id, status=status)
    rows, more = await fetch_page(session, query, WebhookDelivery.id, page)
    attempts = await event_log.attempts_of(session, [d.id for d in rows])
    return ListResponse(
        data=[DeliveryOut.of(d, [a for a in attempts if a.delivery_id == d.id]) for d in rows],
        has_more=more,
    )
