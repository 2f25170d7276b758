"""Manual sends: replay one event to one endpoint, recover an endpoint's failed deliveries,
and the test ping. Each is one immediate attempt (not retried) with the event's own id as
``webhook-id``, a fresh timestamp and a fresh signature.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import audit, clock
from kassa.core.errors import InvalidRequest
from kassa.jobs import emit
from kassa.webhooks.outbound.catalog import PING
from kassa.webhooks.outbound.delivery import MANUAL, new_delivery, queue_attempt, resend_failed
from kassa.webhooks.outbound.endpoints import get_endpoint
from kassa.webhooks.outbound.errors import RECOVER_WINDOW_EXCEEDED, WEBHOOK_ENDPOINT_DISABLED
from kassa.webhooks.outbound.event_log import get_event
from kassa.webhooks.outbound.models import FAILED, PENDING, WebhookDelivery, WebhookEndpoint

RECOVER_WINDOW = timedelta(days=14)


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise WEBHOOK_ENDPOINT_DISABLED(
            f"Webhook endpoint {endpoint.id} is disabled; enable it first."
        )


async def replay_event(
    session: AsyncSession, *, account_id: str, livemode: bool, event_id: str, endpoint_id: str
) -> WebhookDelivery:
    """Send ``event_id`` to ``endpoint_id`` once more, now (whatever the endpoint's filter)."""
    event = await get_event(session, account_id=account_id, livemode=livemode, event_id=event_id)
    endpoint = await get_endpoint(
        session, account_id=account_id, livemode=livemode, endpoint_id=endpoint_id
    )
    _require_enabled(endpoint)
    delivery = await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.event_id == event.id, WebhookDelivery.endpoint_id == endpoint.id
        )
    )
    # Unless automatic attempts are still scheduled, a failed replay leaves it failed.
    fail_on_error = delivery is None or delivery.status == FAILED
    now = clock.now()
    if delivery is None:
        delivery = new_delivery(session, event, endpoint)
    elif delivery.status == FAILED:
        delivery.status, delivery.next_attempt_at, delivery.updated_at = PENDING, now, now
    elif delivery.next_attempt_at is None:
        # A delivered one: the 202 answer shows the replay queued; its attempt clears this.
        delivery.next_attempt_at, delivery.updated_at = now, now
    queue_attempt(session, delivery.id, trigger=MANUAL, n=0, fail_on_error=fail_on_error)
    audit.record(
        session,
        action="webhook_delivery.replay",
        object_type="webhook_delivery",
        object_id=delivery.id,
        account_id=account_id,
        after={"event_id": event.id, "endpoint_id": endpoint.id},
    )
    return delivery


async def recover_failed(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    endpoint_id: str,
    since: datetime,
    until: datetime | None = None,
) -> int:
    """Send again every failed delivery of the endpoint created since ``since`` (<= 14 days)."""
    now = clock.now()
    if since.tzinfo is None:
        raise InvalidRequest("since needs a time zone (for example ...Z).", param="since")
    if since < now - RECOVER_WINDOW:
        raise RECOVER_WINDOW_EXCEEDED("since may be at most 14 days ago.", param="since")
    endpoint = await get_endpoint(
        session, account_id=account_id, livemode=livemode, endpoint_id=endpoint_id
    )
    _require_enabled(endpoint)
    query = select(WebhookDelivery.id).where(
        WebhookDelivery.endpoint_id == endpoint.id,
        WebhookDelivery.status == FAILED,
        WebhookDelivery.created_at >= since,
    )
    if until is not None:
        query = query.where(WebhookDelivery.created_at < until)
    ids = list((await session.scalars(query.order_by(WebhookDelivery.created_at))).all())
    await resend_failed(session, ids, now=now)
    audit.record(
        session,
        action="webhook_endpoint.recover",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        account_id=account_id,
        after={"since": since.isoformat(), "deliveries": len(ids)},
    )
    return len(ids)


async def send_test(
    session: AsyncSession, *, account_id: str, livemode: bool, endpoint_id: str
) -> WebhookDelivery:
    """A ``webhook_endpoint.ping`` event, to this endpoint only (also when it is disabled)."""
    endpoint = await get_endpoint(
        session, account_id=account_id, livemode=livemode, endpoint_id=endpoint_id
    )
    event = emit(
        session,
        PING,
        {"webhook_endpoint": endpoint.id, "message": "ping from kassa"},
        account_id=account_id,
        livemode=livemode,
    )
    delivery = new_delivery(session, event, endpoint)
    queue_attempt(session, delivery.id, trigger=MANUAL, n=0, fail_on_error=True)
    return delivery
