"""Payout e-mails, sent by jobs (never inside the money transaction).

``payouts.notify`` is subscribed to ``payout.paid``, ``payout.failed`` and
``payout.batch.failed``: the job is enqueued by the same commit that records the event, so a
mail is never lost, and it runs once per event (a failed SMTP conversation is retried by the
worker). ``payouts.pending_volume`` runs hourly and tells an account's admins while it holds
more unpaid commissions than ``KASSA_PAYOUT_PENDING_ALERT_COUNT`` (seed 000's "High
Commission Volume" alert).

What a mail says: amounts, currency, batch number, kassa's error code. Never a payee's
provider account, wallet or bank data, nor a secret: the affiliate reads those at Rise.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core.settings import Settings
from kassa.jobs import JobContext
from kassa.jobs.models import Event
from kassa.jobs.registry import JobRegistry
from kassa.notify import EmailMessage, Mailer
from kassa.payouts.models import Affiliate, Commission
from kassa.webhooks.inbound.alerts import alert_recipients

log = logging.getLogger("kassa.payouts")
NOTIFY_JOB = "payouts.notify"
PENDING_VOLUME_JOB = "payouts.pending_volume"
EVENTS = ("payout.paid", "payout.failed", "payout.batch.failed")
UNPAID = ("pending", "approved")  # earned, not yet in a batch

# What an affiliate can do about a failed payout, by kassa's error code.
_ACTION = {
    "payee_not_payable": "Complete your identity verification (KYC) in your Rise account.",
    "invalid_recipient": "Accept your Rise invitation, or tell us your current RiseID.",
}
_DEFAULT_ACTION = "Check your Rise account, or reply to this e-mail and we will look into it."


def _amount(data: dict[str, Any]) -> str:
    return f"{data['amount']['value']} {data['amount']['currency']}"  # as the API writes it


def paid_message(to: str, name: str, data: dict[str, Any]) -> EmailMessage:
    amount = _amount(data)
    body = (
        f"Hello {name},\n\n"
        f"your payout of {amount} was sent to your Rise account.\n"
        f"It pays {data['commission_count']} commission(s); payout batch "
        f"{data['batch_number']}, payout {data['id']}.\n"
    )
    return EmailMessage((to,), f"Your payout of {amount} was paid", body)


def failed_message(to: str, name: str, data: dict[str, Any]) -> EmailMessage:
    amount = _amount(data)
    code = data.get("error_code") or "unknown"
    body = (
        f"Hello {name},\n\n"
        f"your payout of {amount} (payout batch {data['batch_number']}, payout {data['id']}) "
        f"could not be paid (reason: {code}).\n\n"
        f"What to do: {_ACTION.get(code, _DEFAULT_ACTION)}\n"
        "Your commissions are kept: once this is fixed they are paid with a later payout.\n"
    )
    return EmailMessage((to,), f"Action needed: your payout of {amount} failed", body)


def batch_failed_message(to: tuple[str, ...], data: dict[str, Any]) -> EmailMessage:
    total = f"{data['total']['value']} {data['total']['currency']}"
    codes = sorted({t.get("error_code") or "unknown" for t in data.get("transactions", [])})
    body = (
        f"Every payment of payout batch {data['number']} ({data['id']}, {total}, "
        f"{data['payment_count']} payment(s)) failed.\n"
        f"Error codes: {', '.join(codes)}.\n\n"
        f"The batch and its transactions: GET /v1/payout_batches/{data['id']}.\n"
    )
    return EmailMessage(to, f"kassa: payout batch {data['number']} failed", body)


def pending_message(to: tuple[str, ...], account_id: str, count: int, limit: int) -> EmailMessage:
    body = (
        f"Account {account_id} holds {count} unpaid commissions (pending or approved, not yet "
        f"in a payout batch), more than the {limit} of KASSA_PAYOUT_PENDING_ALERT_COUNT.\n\n"
        "Approve them (POST /v1/commissions/approve) and check the payout schedule and what "
        "is held back (GET /v1/payout_batches/preview).\n"
    )
    return EmailMessage(to, f"kassa: {count} unpaid commissions in {account_id}", body)


async def admins(session: AsyncSession, account_id: str | None, settings: Settings) -> list[str]:
    found = await alert_recipients(session, account_id)
    if settings.rise_manager_email and settings.rise_manager_email not in found:
        found.append(settings.rise_manager_email)
    return found


async def message_for(
    session: AsyncSession, event: Event, settings: Settings
) -> EmailMessage | None:
    data: dict[str, Any] = event.data
    if event.type in ("payout.paid", "payout.failed"):
        affiliate = await session.get(Affiliate, data["affiliate_id"])
        if affiliate is None:
            return None
        build = paid_message if event.type == "payout.paid" else failed_message
        return build(affiliate.email, affiliate.name, data)
    if event.type == "payout.batch.failed":
        to = await admins(session, event.account_id, settings)
        return batch_failed_message(tuple(to), data) if to else None
    return None


async def pending_volume(session: AsyncSession, settings: Settings) -> list[EmailMessage]:
    limit = settings.payout_pending_alert_count
    rows = (
        await session.execute(
            select(Commission.account_id, func.count())
            .where(Commission.status.in_(UNPAID), Commission.transaction_id.is_(None))
            .group_by(Commission.account_id)
            .having(func.count() > limit)
        )
    ).all()
    messages = []
    for account_id, count in rows:
        to = await admins(session, account_id, settings)
        if to:
            messages.append(pending_message(tuple(to), account_id, int(count), limit))
    return messages


def install(registry: JobRegistry, settings: Settings, mailer: Mailer) -> None:
    """Register the jobs in ``registry`` (the process's, or a test's own) with ``mailer``."""

    async def notify(ctx: JobContext) -> None:
        event = await ctx.session.scalar(select(Event).where(Event.id == ctx.args["event_id"]))
        message = None if event is None else await message_for(ctx.session, event, settings)
        await ctx.session.commit()  # no transaction held across the SMTP conversation
        if message is None:
            return
        await mailer.send(message)

    async def pending(ctx: JobContext) -> None:
        messages = await pending_volume(ctx.session, settings)
        await ctx.session.commit()
        for message in messages:
            await mailer.send(message)

    registry.register(NOTIFY_JOB, notify, max_attempts=8, timeout_seconds=120.0)
    registry.register(PENDING_VOLUME_JOB, pending, max_attempts=1, timeout_seconds=300.0)
