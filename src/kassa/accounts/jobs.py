"""Jobs of the accounts context: telling the admins about sign-in lockouts, purging counters."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts.login_throttle import ALERT_JOB, purge_idle
from kassa.accounts.models import User
from kassa.core.settings import Settings
from kassa.jobs import JobContext
from kassa.jobs.registry import JOBS, JobRegistry
from kassa.jobs.scheduler import register_schedule
from kassa.notify import EmailMessage, Mailer, mailer_from_settings

log = logging.getLogger("kassa.accounts")
PURGE_JOB = "accounts.login_throttle_purge"


async def admin_addresses(session: AsyncSession) -> list[str]:
    rows = await session.scalars(
        select(User.email).where(User.role == "admin", User.disabled_at.is_(None))
    )
    return sorted(rows.all())


def lockout_message(args: dict[str, Any]) -> tuple[str, str]:
    who = f"the email {args['email']}" if "email" in args else f"the address {args['ip']}"
    subject = f"kassa: sign-in locked for {who}"
    body = (
        f"Sign-in for {who} failed too many times in a row and is locked for "
        f"{args['seconds']} seconds (until {args['locked_until']} UTC; lockout number "
        f"{args['lockouts']}, each one twice as long as the one before).\n\n"
        "If this was not one of your users mistyping a password, someone is guessing "
        "passwords. The audit log (actions auth.login_failed and auth.login_locked) has the "
        "addresses and times of every attempt.\n"
    )
    return subject, body


def install(registry: JobRegistry, settings: Settings, *, mailer: Mailer | None = None) -> None:
    """Register the handlers in ``registry`` (tests use their own registry and mailer)."""
    send = mailer or mailer_from_settings(settings)

    async def alert(ctx: JobContext) -> None:
        to = await admin_addresses(ctx.session)
        await ctx.session.commit()  # no transaction held across the SMTP conversation
        if not to:
            log.warning("a sign-in lockout and no admin to tell", extra={"args": ctx.args})
            return
        subject, body = lockout_message(ctx.args)
        await send.send(EmailMessage(tuple(to), subject, body))

    async def purge(ctx: JobContext) -> None:
        await purge_idle(ctx.session)

    registry.register(ALERT_JOB, alert, max_attempts=8, timeout_seconds=120.0)
    registry.register(PURGE_JOB, purge, max_attempts=3)


def register(settings: Settings) -> None:
    """Called once per process by the composition root."""
    install(JOBS, settings)
    register_schedule(PURGE_JOB, PURGE_JOB, every=timedelta(hours=1))
