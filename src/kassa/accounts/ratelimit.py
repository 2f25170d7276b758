"""Rate limits (GCRA): in-process by default, shared through Redis when configured.

``rate`` is requests per second; ``burst`` how many seconds' worth may arrive at once (at
least one request). ``hit()`` returns 0 when allowed, else the whole seconds to wait (for
``Retry-After``).

Without Redis each API process keeps its own counts, so N processes would allow N times the
limit: ``build_limiter`` gives each process 1/N of it instead (``KASSA_API_WORKERS``, which
``kassa serve`` sets for its processes).
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > tolerance then return math.ceil(new_tat - now - tolerance) end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(tolerance + interval))
return 0
"""


class RateLimiter(Protocol):
    async def hit(self, key: str, rate: float, burst: float) -> int: ...


def build_limiter(*, redis_url: str | None, api_workers: int) -> RateLimiter:
    """Shared through Redis when configured; else in-process, with this process's share."""
    if redis_url:
        return RedisRateLimiter(redis_url)
    return MemoryRateLimiter(processes=api_workers)


class MemoryRateLimiter:
    def __init__(self, *, processes: int = 1) -> None:
        if processes < 1:
            raise ValueError("processes must be at least 1")
        # This process's share: the load balancer spreads clients over ``processes`` of us.
        self.share = 1.0 / processes
        self._tat: dict[str, float] = {}

    async def hit(self, key: str, rate: float, burst: float) -> int:
        now = time.monotonic()
        interval = 1.0 / (rate * self.share)
        tolerance = max(burst, interval)  # seconds of credit; one request at the least
        tat = max(self._tat.get(key, now), now)
        new_tat = tat + interval
        if new_tat - now > tolerance:
            return math.ceil(new_tat - now - tolerance)
        self._tat[key] = new_tat
        if len(self._tat) > 100_000:  # forget idle clients
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return 0


class RedisRateLimiter:
    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.from_url(url)
        self._script: Any = self._redis.register_script(_LUA)

    async def hit(self, key: str, rate: float, burst: float) -> int:
        interval_ms = 1000.0 / rate
        tolerance_ms = max(burst * 1000, interval_ms)  # one request at the least
        wait_ms = await self._script(keys=[f"kassa:rl:{key}"], args=[interval_ms, tolerance_ms])
        return math.ceil(float(wait_ms) / 1000) if float(wait_ms) > 0 else 0

    async def close(self) -> None:
        await self._redis.aclose()
