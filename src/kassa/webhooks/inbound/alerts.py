"""Alerting on invalid signatures: someone probing a webhook URL, or a secret out of date.

Each process counts the invalid signatures of each webhook URL (provider and credentials) in a
sliding window; when the count reaches the threshold it enqueues one alert job, and no second
one for that URL until a window has passed (so a flood brings one email per window per
process, not one per request). The job emails the account's admins, or the install's for
the default credentials.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.accounts.models import User
from kassa.core.db import transaction
from kassa.jobs import JobContext, enqueue
from kassa.jobs.registry import JobRegistry
from kassa.notify import EmailMessage, Mailer

log = logging.getLogger("kassa.webhooks.inbound")

ALERT_JOB = "webhooks.inbound_signature_alert"


class InvalidSignatureAlarm:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        threshold: int,
        window_seconds: float,
    ) -> None:
        self.sessions = sessions
        self.threshold = threshold
        self.window = window_seconds
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._alerted: dict[tuple[str, str], float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def record(self, provider: str, credentials_id: str, account_id: str | None) -> None:
        """One invalid signature now; may start an alert job (in the background)."""
        now = asyncio.get_running_loop().time()
        key = (provider, credentials_id)
        seen = self._seen.setdefault(key, deque())
        seen.append(now)
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if len(seen) < self.threshold:
            return
        last = self._alerted.get(key)
        if last is not None and now - last < self.window:
            return
        self._alerted[key] = now
        args = {
            "provider": provider,
            "credentials_id": credentials_id,
            "account_id": account_id,
            "count": len(seen),
            "window_seconds": int(self.window),
        }
        task = asyncio.get_running_loop().create_task(self._enqueue(args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if len(self._seen) > 10_000:  # a bounded memory, whatever is probed
            self._seen = {key: seen}

    async def _enqueue(self, args: dict[str, Any]) -> None:
        try:
            async with transaction(self.sessions) as session:
                enqueue(session, ALERT_JOB, args)
        except Exception:
            log.exception("could not queue the invalid-signature alert")


async def alert_recipients(session: AsyncSession, account_id: str | None) -> list[str]:
    """The account's admins; for the install's credentials its own admins (users of no
    account), else every admin (a single-merchant install)."""
    active = (User.role == "admin", User.disabled_at.is_(None))
    if account_id is not None:
        query = select(User.email).where(*active, User.account_id == account_id)
        return sorted((await session.scalars(query)).all())
    install = await session.scalars(select(User.email).where(*active, User.account_id.is_(None)))
    found = sorted(install.all())
    return found or sorted((await session.scalars(select(User.email).where(*active))).all())


def alert_message(args: dict[str, Any]) -> tuple[str, str]:
    where = (
        f"/webhooks/{args['provider']}"
        if args["credentials_id"] == "default"
        else f"/webhooks/{args['provider']}/{args['credentials_id']}"
    )
    subject = f"kassa: invalid {args['provider']} webhook signatures at {where}"
    body = (
        f"{args['count']} deliveries to {where} in the last {args['window_seconds']} seconds "
        "had invalid signatures and were refused (nothing was stored or processed).\n\n"
        "Either the webhook signing secret configured in kassa no longer matches the one at "
        f"{args['provider']} (a rotated secret: configure the new one), or someone is sending "
        "forged webhooks to this URL. The metric kassa_inbound_webhooks_total"
        '{outcome="invalid_signature"} counts them.\n'
    )
    return subject, body


def install(registry: JobRegistry, mailer: Mailer) -> None:
    async def alert(ctx: JobContext) -> None:
        to = await alert_recipients(ctx.session, ctx.args.get("account_id"))
        await ctx.session.commit()  # no transaction held across the SMTP conversation
        if not to:
            log.warning("invalid webhook signatures and no admin to tell", extra=ctx.args)
            return
        subject, body = alert_message(ctx.args)
        await mailer.send(EmailMessage(tuple(to), subject, body))

    registry.register(ALERT_JOB, alert, max_attempts=8, timeout_seconds=120.0)
