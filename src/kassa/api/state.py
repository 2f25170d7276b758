"""What the app holds for its lifetime: settings, engine, sessions, limiter, health checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kassa.accounts.ratelimit import RateLimiter
from kassa.core.settings import Settings

HealthCheck = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    limiter: RateLimiter
    token_key: bytes
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
