"""Sign-in throttling: failed passwords per email and per client address, with lockouts.

The counters live in the database, so every API process (and every machine) shares them:
counters in each process would give N processes N times the tries.

Each attempt is counted *before* its password is checked, in a short transaction that locks
the email's and the address's rows; concurrent guesses each take one of the allowed tries and
none slips past the limit while others are being checked. A success gives the email its tries
back. A failure that finds the tries used up locks the email (or the address) for ``lockout``,
twice as long with each further lockout, up to ``lockout_max``. Every failure and every lockout
is audited; a lockout also enqueues an email to the admins (``ALERT_JOB``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.accounts.models import LoginThrottle, User
from kassa.core import audit, clock
from kassa.core.crypto import sha256_hex
from kassa.core.db import is_postgres, transaction
from kassa.core.errors import RateLimited
from kassa.core.settings import Settings
from kassa.jobs import enqueue

ALERT_JOB = "accounts.login_lockout_alert"
FORGET_AFTER = timedelta(days=1)  # a row idle this long starts afresh (and is purged)
_EMAIL, _IP = "email:", "ip:"


class LoginLocked(RateLimited):
    code = "login_locked"


@dataclass(frozen=True)
class Policy:
    max_failures: int
    max_failures_per_ip: int
    window: timedelta
    lockout: timedelta
    lockout_max: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            max_failures=settings.login_max_failures,
            max_failures_per_ip=settings.login_max_failures_per_ip,
            window=timedelta(seconds=settings.login_failure_window_seconds),
            lockout=timedelta(seconds=settings.login_lockout_seconds),
            lockout_max=timedelta(seconds=settings.login_lockout_max_seconds),
        )

    def limit(self, key: str) -> int:
        return self.max_failures_per_ip if key.startswith(_IP) else self.max_failures

    def lockout_after(self, lockouts: int) -> timedelta:
        """How long the next lockout lasts, after ``lockouts`` earlier ones."""
        longer: timedelta = self.lockout * (2 ** min(lockouts, 32))
        return min(longer, self.lockout_max)


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt, already counted against its email and its address."""

    email: str
    ip: str | None

    @property
    def keys(self) -> tuple[str, ...]:
        # A digest, not the attacker's text; short enough to be an audit object id too.
        keys = {_EMAIL + sha256_hex(self.email)[:32]}
        if self.ip:
            keys.add(_IP + self.ip[:60])
        return tuple(sorted(keys))  # one lock order for every process: no deadlocks


async def _locked_rows(session: AsyncSession, keys: Sequence[str]) -> list[LoginThrottle]:
    now = clock.now()
    fresh = [
        {
            "key": k,
            "failures": 0,
            "window_started_at": now,
            "locked_until": None,
            "lockouts": 0,
            "updated_at": now,
        }
        for k in keys
    ]
    insert = postgresql.insert if is_postgres(session) else sqlite.insert
    await session.execute(insert(LoginThrottle).values(fresh).on_conflict_do_nothing())
    rows = await session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.key.in_(keys))
        .order_by(LoginThrottle.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(rows)


def _age(row: LoginThrottle, policy: Policy, now: datetime) -> None:
    """Forget what is old: an expired lock, failures outside the window, a long idle row."""
    if now - row.updated_at > FORGET_AFTER:
        row.lockouts = 0
    if row.locked_until is not None and row.locked_until <= now:
        row.locked_until = None
        row.failures = 0
    if row.failures == 0 or now - row.window_started_at > policy.window:
        row.failures, row.window_started_at = 0, now


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def _locked_message(wait: int) -> str:
    return f"Too many failed sign-ins. Try again in {wait} seconds."


async def begin(
    sessions: async_sessionmaker[AsyncSession], policy: Policy, *, email: str, ip: str | None
) -> Attempt:
    """Count an attempt before its password is checked, or raise ``LoginLocked``."""
    attempt = Attempt(email, ip)
    now = clock.now()
    wait = 0
    async with transaction(sessions) as session:
        rows = await _locked_rows(session, attempt.keys)
        for row in rows:
            _age(row, policy, now)
            if row.locked_until is not None:
                wait = max(wait, _seconds(row.locked_until - now))
            elif row.failures >= policy.limit(row.key):
                # The last tries are being checked right now; if they fail, this lock follows.
                wait = max(wait, _seconds(policy.lockout_after(row.lockouts)))
        for row in rows:
            row.failures += 0 if wait else 1
            row.updated_at = now
    if wait:
        raise LoginLocked(wait, _locked_message(wait))
    return attempt


def _audit_lockout(
    session: AsyncSession, row: LoginThrottle, attempt: Attempt, user: User | None, period: int
) -> None:
    subject = {"email": attempt.email} if row.key.startswith(_EMAIL) else {"ip": attempt.ip}
    details = {
        **subject,
        "seconds": period,
        "locked_until": row.locked_until.isoformat() if row.locked_until else None,
        "lockouts": row.lockouts,
    }
    audit.record(
        session,
        action="auth.login_locked",
        object_type="login_throttle",
        object_id=row.key,
        account_id=user.account_id if user and row.key.startswith(_EMAIL) else None,
        after=details,
    )
    enqueue(session, ALERT_JOB, details)


async def failed(
    sessions: async_sessionmaker[AsyncSession],
    policy: Policy,
    attempt: Attempt,
    *,
    user: User | None,
) -> int | None:
    """Record a wrong password; the seconds of the lockout it caused, if it caused one."""
    now = clock.now()
    locked_for: int | None = None
    async with transaction(sessions) as session:
        audit.record(
            session,
            action="auth.login_failed",
            object_type="user" if user else "login",
            object_id=user.id if user else "unknown_user",
            account_id=user.account_id if user else None,
            after={"email": attempt.email},
        )
        for row in await _locked_rows(session, attempt.keys):
            row.updated_at = now
            if row.locked_until is None and row.failures >= policy.limit(row.key):
                period = _seconds(policy.lockout_after(row.lockouts))
                row.locked_until = now + timedelta(seconds=period)
                row.lockouts += 1
                row.failures, row.window_started_at = 0, now
                locked_for = max(locked_for or 0, period)
                _audit_lockout(session, row, attempt, user, period)
    return locked_for


async def succeeded(
    sessions: async_sessionmaker[AsyncSession], attempt: Attempt, *, user: User
) -> None:
    """The email gets all its tries back; the address only the one this attempt took (one
    good password must not reset the count of an address that guesses at other emails)."""
    async with transaction(sessions) as session:
        for row in await _locked_rows(session, attempt.keys):
            if row.key.startswith(_EMAIL):
                row.failures, row.lockouts, row.locked_until = 0, 0, None
            else:
                row.failures = max(0, row.failures - 1)
            row.updated_at = clock.now()
        audit.record(
            session,
            action="auth.login",
            object_type="user",
            object_id=user.id,
            account_id=user.account_id,
            actor=f"user:{user.id}",
        )


async def purge_idle(session: AsyncSession) -> int:
    """Delete rows idle for a day and not locked (attackers can invent any number of emails)."""
    now = clock.now()
    result = await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.updated_at < now - FORGET_AFTER,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
