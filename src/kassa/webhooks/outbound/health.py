"""Endpoint health: failing streaks, the failing notice, auto-disable and recovery.

An endpoint's streak starts with its first failure after a success (``failing_since``). Once
failures have spread over ``failing_min_span`` (12 h) the merchant is told it is failing; once
the streak reaches ``disable_after`` (5 days, never less than the span) it is disabled. Each
notice is a ``webhook_endpoint.*`` event (sent to the account's other endpoints) and an email.
A success ends the streak, and announces the recovery if the failing notice went out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from kassa.jobs import emit, enqueue
from kassa.webhooks.outbound.catalog import DISABLED, FAILING, RECOVERED
from kassa.webhooks.outbound.config import OutboundConfig
from kassa.webhooks.outbound.endpoints import to_dict
from kassa.webhooks.outbound.models import WebhookEndpoint

EMAIL_JOB = "webhooks.email"
# last_success_at is rewritten at most this often: stamping every success would make a busy
# endpoint's row hot (each delivery's transaction waiting on it). Documented as "to within a
# minute" in docs/webhooks.md; each delivery's delivered_at is exact.
SUCCESS_STAMP_EVERY = timedelta(seconds=60)


def _remember(endpoint: WebhookEndpoint, **values: object) -> None:
    """Keep the loaded endpoint true to the row after a conditional update, so the next outcome
    in the same transaction (a batch) sees it; without marking it dirty (no second UPDATE)."""
    for key, value in values.items():
        set_committed_value(endpoint, key, value)


async def _claim(
    session: AsyncSession, endpoint: WebhookEndpoint, *conditions: object, **values: object
) -> bool:
    """A conditional update: True for the one caller that made the change, whose loaded
    ``endpoint`` then shows it (``_remember``)."""
    result = await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint.id, *conditions)  # type: ignore[arg-type]
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    changed = int(result.rowcount) == 1  # type: ignore[attr-defined]
    if changed:
        _remember(endpoint, **values)
    return changed


def _notify(
    session: AsyncSession, endpoint: WebhookEndpoint, event_type: str, subject: str, text: str
) -> None:
    emit(
        session,
        event_type,
        to_dict(endpoint),
        account_id=endpoint.account_id,
        livemode=endpoint.livemode,
    )
    enqueue(
        session, EMAIL_JOB, {"account_id": endpoint.account_id, "subject": subject, "body": text}
    )


async def record_success(
    session: AsyncSession, endpoint: WebhookEndpoint, now: datetime
) -> datetime | None:
    """Ends a failing streak and returns when it began (None if there was none, or another
    delivery ended it). Touches the row only when something changes: hot rows are slow."""
    if endpoint.failing_since is None:
        if endpoint.last_success_at is None or now - endpoint.last_success_at > SUCCESS_STAMP_EVERY:
            await _claim(session, endpoint, last_success_at=now)
        return None
    since = endpoint.failing_since
    was_notified = endpoint.failing_notified_at is not None
    changed = await _claim(
        session,
        endpoint,
        WebhookEndpoint.failing_since.is_not(None),
        failing_since=None,
        failing_notified_at=None,
        last_success_at=now,
    )
    if changed and was_notified:
        _notify(
            session,
            endpoint,
            RECOVERED,
            "Webhook endpoint recovered",
            f"Your webhook endpoint {endpoint.url} ({endpoint.id}) accepts deliveries again.\n"
            "Deliveries that gave up while it failed are being sent again.\n",
        )
    return since if changed else None


async def record_failure(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    now: datetime,
    config: OutboundConfig,
    *,
    gone: bool = False,
) -> None:
    if gone:
        await disable(session, endpoint, now, reason="gone", why="it answered 410 Gone")
        return
    since = endpoint.failing_since
    if since is None:
        await _claim(session, endpoint, WebhookEndpoint.failing_since.is_(None), failing_since=now)
        return
    span = now - since
    if span >= max(config.disable_after, config.failing_min_span):
        await disable(
            session, endpoint, now, reason="failing", why=f"it failed every delivery since {since}"
        )
    elif (
        span >= config.failing_min_span
        and endpoint.failing_notified_at is None
        and await _claim(
            session,
            endpoint,
            WebhookEndpoint.failing_notified_at.is_(None),
            failing_notified_at=now,
        )
    ):
        days = config.disable_after.total_seconds() / 86400
        _notify(
            session,
            endpoint,
            FAILING,
            "Webhook endpoint failing",
            f"Every delivery to your webhook endpoint {endpoint.url} ({endpoint.id}) has "
            f"failed since {since.isoformat()}.\nIt will be disabled if it keeps failing "
            f"for {days:g} days. Deliveries are retried; you can replay or recover them "
            "from the API once it works again.\n",
        )


async def disable(
    session: AsyncSession, endpoint: WebhookEndpoint, now: datetime, *, reason: str, why: str
) -> None:
    """``reason`` is the stable ``disabled_reason`` ("gone", "failing"); ``why`` is for people."""
    if not await _claim(
        session,
        endpoint,
        WebhookEndpoint.enabled.is_(True),
        enabled=False,
        disabled_reason=reason,
        updated_at=now,
    ):
        return
    _notify(
        session,
        endpoint,
        DISABLED,
        "Webhook endpoint disabled",
        f"Your webhook endpoint {endpoint.url} ({endpoint.id}) was disabled because {why}.\n"
        "Enable it again (POST /v1/webhook_endpoints/{id} with enabled=true) and recover the "
        "failed deliveries (POST /v1/webhook_endpoints/{id}/recover).\n",
    )
