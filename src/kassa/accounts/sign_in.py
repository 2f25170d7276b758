"""Signing a dashboard user in with email and password, throttled (login_throttle.py)."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.accounts import login_throttle, users
from kassa.accounts.errors import INVALID_CREDENTIALS
from kassa.accounts.login_throttle import LoginLocked, Policy
from kassa.accounts.models import User
from kassa.core.db import transaction


async def sign_in(
    sessions: async_sessionmaker[AsyncSession],
    policy: Policy,
    *,
    email: str,
    password: str,
    ip: str | None,
) -> User:
    """The user, or ``AuthenticationFailed`` (wrong email or password, alike) or
    ``LoginLocked`` (too many failures for this email or this address: 429, Retry-After)."""
    attempt = await login_throttle.begin(
        sessions, policy, email=users.normalize_email(email), ip=ip
    )
    async with transaction(sessions) as session:
        user = await users.find_active_user(session, email)
    if await asyncio.to_thread(users.password_matches, user, password):
        assert user is not None
        await login_throttle.succeeded(sessions, attempt, user=user)
        return user
    locked_for = await login_throttle.failed(sessions, policy, attempt, user=user)
    if locked_for:
        raise LoginLocked(
            locked_for,
            f"Wrong email or password, and too many failures: sign-in is locked for "
            f"{locked_for} seconds.",
        )
    raise INVALID_CREDENTIALS("Wrong email or password.")
