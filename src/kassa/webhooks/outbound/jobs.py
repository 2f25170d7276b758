"""Registers outbound webhooks with the job system: fan-out, delivery attempts, emails."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts.models import Account, User
from kassa.core.settings import Settings
from kassa.jobs import JobContext, subscribe
from kassa.jobs.registry import BatchContext, Handler, JobRegistry
from kassa.notify import EmailMessage, Mailer, mailer_from_settings
from kassa.webhooks.outbound import fanout
from kassa.webhooks.outbound.config import OutboundConfig
from kassa.webhooks.outbound.delivery import DELIVER_JOB, FAN_OUT_JOB, Deliverer
from kassa.webhooks.outbound.endpoints import secret_box
from kassa.webhooks.outbound.health import EMAIL_JOB

log = logging.getLogger("kassa.webhooks")
_deliverer: Deliverer | None = None
# Fan-out jobs run together, up to this many: statements per batch, not per event.
FAN_OUT_BATCH = 16


async def merchant_addresses(session: AsyncSession, account_id: str) -> list[str]:
    """The account's contact email, else its dashboard users'."""
    contact = await session.scalar(select(Account.email).where(Account.id == account_id))
    if contact:
        return [contact]
    users = await session.scalars(
        select(User.email).where(User.account_id == account_id, User.disabled_at.is_(None))
    )
    return list(users.all())


def handlers(
    config: OutboundConfig, deliverer: Deliverer, mailer: Mailer
) -> dict[str, tuple[Handler, int, float]]:
    async def fan_out_job(ctx: JobContext) -> None:
        await fanout.fan_out(deliverer, ctx)

    async def email_job(ctx: JobContext) -> None:
        to = await merchant_addresses(ctx.session, ctx.args["account_id"])
        await ctx.session.commit()
        if not to:
            log.warning("no address to tell", extra={"account_id": ctx.args["account_id"]})
            return
        await mailer.send(EmailMessage(tuple(to), ctx.args["subject"], ctx.args["body"]))

    return {
        FAN_OUT_JOB: (fan_out_job, 10, config.timeout + 60.0),
        # Re-run only if the worker died or the database failed; HTTP failures are attempts.
        DELIVER_JOB: (deliverer.handle, 10, config.timeout + 60.0),
        EMAIL_JOB: (email_job, 8, 120.0),
    }


def install(
    registry: JobRegistry, settings: Settings, *, mailer: Mailer | None = None
) -> Deliverer:
    """Register the handlers in ``registry`` (tests use their own registry and settings)."""
    config = OutboundConfig.from_settings(settings)
    deliverer = Deliverer(config, secret_box(settings.secret_key_bytes()))
    for name, (handler, attempts, timeout) in handlers(
        config, deliverer, mailer or mailer_from_settings(settings)
    ).items():
        batch = None
        if name == FAN_OUT_JOB:  # first attempts of many events at once (fanout.py)

            async def batch(ctx: BatchContext) -> dict[str, Handler]:
                return await fanout.fan_out_batch(deliverer, ctx)

        registry.register(
            name,
            handler,
            max_attempts=attempts,
            timeout_seconds=timeout,
            batch=batch,
            batch_size=FAN_OUT_BATCH,
        )
    subscribe("*", FAN_OUT_JOB)
    return deliverer


def register(settings: Settings) -> None:
    """Called once per process by the composition root."""
    global _deliverer
    from kassa.jobs.registry import JOBS

    _deliverer = install(JOBS, settings)
