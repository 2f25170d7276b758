"""Payout jobs: commissions from kassa's own payment events, and approval after the hold.

A payment whose ``metadata.affiliate_code`` names an affiliate earns it a one-time
commission when it succeeds (``metadata.subscription_id`` groups its refunds, default the
payment id); ``payment.refunded`` carries the payment's cumulative ``amount_refunded``, so
the refund event recorded is the part not recorded before.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kassa.core.money import Money
from kassa.core.settings import Settings
from kassa.jobs import JobContext, register_job, subscribe
from kassa.jobs.models import Event
from kassa.jobs.registry import JOBS, JobRegistry
from kassa.jobs.scheduler import register_schedule
from kassa.notify import Mailer, mailer_from_settings
from kassa.payouts import (
    approval,
    commissions,
    execution,
    mock_events,
    notifications,
    provider_events,
    schedules,
)
from kassa.payouts import events as _events  # noqa: F401  (declares the event types)

log = logging.getLogger("kassa.payouts")
PAYMENT_EVENT_JOB = "payouts.payment_event"
APPROVE_HELD_JOB = "payouts.approve_held"


def new_event_of_payment(event: Event) -> commissions.NewEvent | None:
    """The subscription event a payment event is, if its payment names an affiliate."""
    data: dict[str, Any] = event.data
    metadata = data.get("metadata") or {}
    code = metadata.get("affiliate_code")
    if not code or event.account_id is None:
        return None
    amount = data["amount"]
    subscription_id = str(metadata.get("subscription_id") or data["id"])
    occurred_at = event.created_at
    if event.type == "payment.succeeded":
        captured = data.get("amount_captured") or amount
        return commissions.NewEvent(
            account_id=event.account_id,
            livemode=event.livemode,
            event_id=event.id,
            type="payment",
            source="payment",
            affiliate_code=str(code),
            subscription_id=subscription_id,
            amount=Money.parse(captured["value"], captured["currency"]),
            occurred_at=occurred_at,
            tier=metadata.get("tier"),
        )
    refunded = data["amount_refunded"]
    return commissions.NewEvent(
        account_id=event.account_id,
        livemode=event.livemode,
        event_id=event.id,
        type="refund",
        source="payment",
        affiliate_code=str(code),
        subscription_id=subscription_id,
        amount=Money.parse(refunded["value"], refunded["currency"]),  # cumulative: see handler
        occurred_at=occurred_at,
    )


async def on_payment_event(ctx: JobContext) -> None:
    event = await ctx.session.scalar(select(Event).where(Event.id == ctx.args["event_id"]))
    if event is None:
        return
    new = new_event_of_payment(event)
    if new is None:
        return
    if new.type == "refund":
        before = await commissions.refunded_so_far(
            ctx.session, account_id=new.account_id, subscription_id=new.subscription_id
        )
        known = await commissions.find(ctx.session, new)
        if known is not None:
            return
        delta = new.amount.minor - before
        if delta <= 0:
            return
        new = commissions.NewEvent(**{**new.__dict__, "amount": Money(delta, new.amount.currency)})
    recorded = await commissions.record_in(ctx.session, new)
    log.info(
        "payment event %s for affiliate code %s: %s",
        event.id,
        new.affiliate_code,
        recorded.event.outcome,
    )


POLL_JOB = "payouts.poll"
SCHEDULED_RUN_JOB = "payouts.scheduled_run"


def install_rise_events(registry: JobRegistry, settings: Settings) -> None:
    """The job applying Rise's webhooks (the process's registry, or a test's own)."""

    async def apply_rise_event(ctx: JobContext) -> None:
        await provider_events.apply_rise_event(
            ctx.sessions, ctx.args["inbound_event_id"], company_id=settings.rise_company_id
        )

    registry.register(provider_events.JOB, apply_rise_event, max_attempts=10)


def install_mock_events(registry: JobRegistry, settings: Settings) -> None:
    """The mock payout provider's simulated webhooks: taken every 2 s when it is the payout
    provider (seed 000: ``simulated_delay`` 2 s), applied whenever one is stored."""
    from kassa.payouts.provider import payout_provider
    from kassa.providers.payout_mock import MockPayoutProvider

    async def apply_mock_event(ctx: JobContext) -> None:
        await mock_events.apply_mock_event(ctx.sessions, ctx.args["inbound_event_id"])

    registry.register(mock_events.APPLY_JOB, apply_mock_event, max_attempts=10)
    if settings.payout_provider.name != "mock":
        return

    async def deliver(ctx: JobContext) -> None:
        mock = payout_provider(settings)
        assert isinstance(mock, MockPayoutProvider)
        await mock_events.deliver(ctx.sessions.kw["bind"], ctx.sessions, mock)

    registry.register(mock_events.DELIVER_JOB, deliver, max_attempts=1)
    register_schedule(mock_events.DELIVER_JOB, mock_events.DELIVER_JOB, every=timedelta(seconds=2))


def install_notifications(registry: JobRegistry, settings: Settings, mailer: Mailer) -> None:
    notifications.install(registry, settings, mailer)
    for name in notifications.EVENTS:
        subscribe(name, notifications.NOTIFY_JOB)


def register(settings: Settings) -> None:
    """Called once per process by the composition root."""
    from kassa.payouts.provider import payout_provider

    install_rise_events(JOBS, settings)
    install_notifications(JOBS, settings, mailer_from_settings(settings))
    register_schedule(
        notifications.PENDING_VOLUME_JOB,
        notifications.PENDING_VOLUME_JOB,
        every=timedelta(hours=1),
    )

    register_job(PAYMENT_EVENT_JOB, on_payment_event, max_attempts=10)

    async def execute_batch(ctx: JobContext) -> None:
        await execution.execute(ctx.sessions, payout_provider(settings), ctx.args["batch_id"])

    async def poll(ctx: JobContext) -> None:
        await execution.poll(ctx.sessions, lambda: payout_provider(settings))

    register_job(execution.EXECUTE_JOB, execute_batch, max_attempts=10)
    install_mock_events(JOBS, settings)
    register_job(POLL_JOB, poll, max_attempts=1)
    register_schedule(POLL_JOB, POLL_JOB, every=timedelta(minutes=1))
    if settings.payment_schedule_enabled:

        async def scheduled_run(ctx: JobContext) -> None:
            await schedules.run_due(ctx.sessions, settings)

        register_job(SCHEDULED_RUN_JOB, scheduled_run, max_attempts=1)
        register_schedule(SCHEDULED_RUN_JOB, SCHEDULED_RUN_JOB, every=timedelta(minutes=1))
    subscribe("payment.succeeded", PAYMENT_EVENT_JOB)
    subscribe("payment.refunded", PAYMENT_EVENT_JOB)
    hold = settings.payout_commission_hold_hours
    if hold is not None:

        async def approve_held(ctx: JobContext) -> None:
            await approval.approve_held(ctx.session, hold_hours=hold)

        register_job(APPROVE_HELD_JOB, approve_held, max_attempts=3)
        register_schedule(APPROVE_HELD_JOB, APPROVE_HELD_JOB, every=timedelta(minutes=15))
