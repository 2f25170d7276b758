"""Webhook endpoints, deliveries, their attempts and the event log as the API shows them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from kassa.core.schemas import Out
from kassa.jobs.models import Event
from kassa.webhooks.outbound.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class EndpointOut(Out):
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


class DeletedEndpointOut(Out):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    deleted: Literal[True] = True

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> DeletedEndpointOut:
        return cls(id=endpoint.id)


class WebhookAttemptOut(Out):
    """One HTTP request to the endpoint and what came back (or why nothing did)."""

    id: str
    object: Literal["webhook_attempt"] = "webhook_attempt"
    trigger: str = Field(description="scheduled or manual.")
    url: str
    request_headers: dict[str, str]
    response_status: int | None
    response_body: str | None
    duration_ms: int
    error: str | None
    succeeded: bool
    created_at: datetime

    @classmethod
    def of(cls, attempt: WebhookAttempt) -> WebhookAttemptOut:
        return cls(
            id=attempt.id,
            trigger=attempt.trigger,
            url=attempt.url,
            request_headers=attempt.request_headers,
            response_status=attempt.response_status,
            response_body=attempt.response_body,
            duration_ms=attempt.duration_ms,
            error=attempt.error,
            succeeded=attempt.succeeded,
            created_at=attempt.created_at,
        )


class DeliveryOut(Out):
    id: str
    object: Literal["webhook_delivery"] = "webhook_delivery"
    event: str
    webhook_endpoint: str
    status: Literal["pending", "succeeded", "failed"]
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempts: list[WebhookAttemptOut] | None = Field(
        None, description="Its attempts, where the response lists them; else null."
    )

    @classmethod
    def of(
        cls, delivery: WebhookDelivery, attempts: Sequence[WebhookAttempt] | None = None
    ) -> DeliveryOut:
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
            attempts=None if attempts is None else [WebhookAttemptOut.of(a) for a in attempts],
        )


class RecoverOut(Out):
    object: Literal["webhook_recovery"] = "webhook_recovery"
    webhook_endpoint: str
    queued: int = Field(description="How many failed deliveries were queued again.")


class EventOut(Out):
    id: str
    object: Literal["event"] = "event"
    type: str
    created_at: datetime
    livemode: bool
    data: dict[str, Any] = Field(description="The object as the API showed it then.")
    request_id: str | None
    deliveries: list[DeliveryOut] | None = Field(
        None, description="Its webhook deliveries, when one event is retrieved; else null."
    )

    @classmethod
    def of(cls, event: Event, deliveries: list[DeliveryOut] | None = None) -> EventOut:
        return cls(
            id=event.id,
            type=event.type,
            created_at=event.created_at,
            livemode=event.livemode,
            data=event.data,
            request_id=event.request_id,
            deliveries=deliveries,
        )
