"""Webhook endpoints: where a merchant's events are POSTed, signed with the endpoint's secret."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from kassa.api.deps import ReadAccess, Session, State, WriteAccess
from kassa.api.pagination import Limit, ListResponse, StartingAfter, fetch_page
from kassa.webhooks.outbound import endpoints, event_log, replay
from kassa.webhooks.outbound.config import OutboundConfig
from kassa.webhooks.outbound.models import WebhookDelivery, WebhookEndpoint

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
    enabled: bool | None = None


class RotateSecret(Strict):
    expires_in_seconds: int | None = Field(
        None,
        ge=0,
        le=7 * 86400,
        description="How long the old secret keeps signing too (default 24 h).",
    )


class Recover(Strict):
    since: datetime = Field(description="Failed deliveries created since then (at most 14 days).")
    until: datetime | None = None


class EndpointOut(BaseModel):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    description: str | None
    enabled_events: list[str]
    enabled: bool
    disabled_reason: str | None
    livemode: bool
    failing_since: datetime | None
    last_success_at: datetime | None = Field(
        description="When a delivery last succeeded, to within a minute (stamped at most once a "
        "minute per endpoint); each delivery's delivered_at is exact."
    )
    created_at: datetime
    secret: str | None = Field(
        None, description="The signing secret; present only when created or rotated."
    )

    @classmethod
    def of(cls, endpoint: WebhookEndpoint, secret: str | None = None) -> EndpointOut:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            description=endpoint.description,
            enabled_events=list(endpoint.enabled_events),
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            livemode=endpoint.livemode,
            failing_since=endpoint.failing_since,
            last_success_at=endpoint.last_success_at,
            created_at=endpoint.created_at,
            secret=secret,
        )


class DeletedOut(BaseModel):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    deleted: bool = True


class DeliveryOut(BaseModel):
    id: str
    object: Literal["webhook_delivery"] = "webhook_delivery"
    event: str
    webhook_endpoint: str
    status: str
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempts: list[dict[str, Any]] | None = None

    @classmethod
    def of(cls, delivery: WebhookDelivery, attempts: list[Any] | None = None) -> DeliveryOut:
        return cls(
            id=delivery.id,
            event=delivery.event_id,
            webhook_endpoint=delivery.endpoint_id,
            status=delivery.status,
            attempt_count=delivery.attempt_count,
            next_attempt_at=delivery.next_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            delivered_at=delivery.delivered_at,
            created_at=delivery.created_at,
            attempts=None
            if attempts is None
            else [
                {
                    "id": a.id,
                    "object": "webhook_attempt",
                    "trigger": a.trigger,
                    "url": a.url,
                    "request_headers": a.request_headers,
                    "response_status": a.response_status,
                    "response_body": a.response_body,
                    "duration_ms": a.duration_ms,
                    "error": a.error,
                    "succeeded": a.succeeded,
                    "created_at": a.created_at,
                }
                for a in attempts
            ],
        )


class RecoverOut(BaseModel):
    object: Literal["webhook_recovery"] = "webhook_recovery"
    webhook_endpoint: str
    queued: int


@router.post("", response_model=EndpointOut, status_code=201, summary="Create a webhook endpoint")
async def create(
    body: EndpointCreate, principal: WriteAccess, session: Session, state: State
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
async def list_all(
    principal: ReadAccess,
    session: Session,
    limit: Limit = 20,
    starting_after: StartingAfter = None,
) -> ListResponse[EndpointOut]:
    query = endpoints.list_query(principal.require_account(), principal.livemode)
    rows, more = await fetch_page(
        session, query, WebhookEndpoint.id, limit=limit, starting_after=starting_after
    )
    return ListResponse(data=[EndpointOut.of(e) for e in rows], has_more=more)


@router.get("/{endpoint_id}", response_model=EndpointOut, summary="Retrieve a webhook endpoint")
async def retrieve(endpoint_id: str, principal: ReadAccess, session: Session) -> EndpointOut:
    endpoint = await endpoints.get_endpoint(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        endpoint_id=endpoint_id,
    )
    return EndpointOut.of(endpoint)


async def _update(
    endpoint_id: str, body: EndpointUpdate, principal: WriteAccess, session: Session, state: State
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


for _method in ("POST", "PATCH"):  # POST as Stripe does, PATCH for REST clients
    router.add_api_route(
        "/{endpoint_id}",
        _update,
        methods=[_method],
        response_model=EndpointOut,
        name=f"update_webhook_endpoint_{_method.lower()}",
        operation_id=f"update_webhook_endpoint_{_method.lower()}",
        summary="Update a webhook endpoint (url, enabled_events, description, enabled)",
    )


@router.delete("/{endpoint_id}", response_model=DeletedOut, summary="Delete a webhook endpoint")
async def delete(endpoint_id: str, principal: WriteAccess, session: Session) -> DeletedOut:
    endpoint = await endpoints.delete_endpoint(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        endpoint_id=endpoint_id,
    )
    return DeletedOut(id=endpoint.id)


@router.post(
    "/{endpoint_id}/rotate_secret",
    response_model=EndpointOut,
    summary="Rotate the signing secret (the old one keeps signing during a grace period)",
)
async def rotate(
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
async def test(endpoint_id: str, principal: WriteAccess, session: Session) -> DeliveryOut:
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
async def recover(
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
async def deliveries(
    endpoint_id: str,
    principal: ReadAccess,
    session: Session,
    status: Literal["pending", "succeeded", "failed"] | None = Query(None),
    limit: Limit = 20,
    starting_after: StartingAfter = None,
) -> ListResponse[DeliveryOut]:
    endpoint = await endpoints.get_endpoint(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        endpoint_id=endpoint_id,
    )
    query = event_log.deliveries_query(endpoint_id=endpoint.id, status=status)
    rows, more = await fetch_page(
        session, query, WebhookDelivery.id, limit=limit, starting_after=starting_after
    )
    attempts = await event_log.attempts_of(session, [d.id for d in rows])
    return ListResponse(
        data=[DeliveryOut.of(d, [a for a in attempts if a.delivery_id == d.id]) for d in rows],
        has_more=more,
    )
