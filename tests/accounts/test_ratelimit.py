"""Rate limits: the in-process limiter and the Redis one shared by several API processes."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import pytest

from kassa.accounts.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter

REDIS_URL = os.environ.get("KASSA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    redis_limiter = RedisRateLimiter(REDIS_URL)
    try:
        await redis_limiter.hit("probe", 1000, 1)
    except Exception as exc:
        await redis_limiter.close()
        if os.environ.get("CI"):
            pytest.fail(f"Redis unreachable in CI: {exc}")
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {exc}")
    yield redis_limiter
    await redis_limiter.close()


async def test_burst_is_allowed_then_limited_with_a_wait(limiter: RateLimiter) -> None:
    key = f"test:{secrets.token_hex(4)}"
    # 1 request/s with 5 s of burst: about five pass at once, then the caller must wait
    results = [await limiter.hit(key, rate=1, burst=5) for _ in range(10)]
    allowed = [r for r in results if r == 0]
    assert 5 <= len(allowed) <= 6
    assert all(r >= 1 for r in results[len(allowed) :])


async def test_keys_are_limited_independently(limiter: RateLimiter) -> None:
    a, b = f"test:{secrets.token_hex(4)}", f"test:{secrets.token_hex(4)}"
    while await limiter.hit(a, rate=1, burst=1) == 0:
        pass
    assert await limiter.hit(b, rate=1, burst=1) == 0


async def test_two_redis_limiters_share_one_budget() -> None:
    first, second = RedisRateLimiter(REDIS_URL), RedisRateLimiter(REDIS_URL)
    try:
        await first.hit("probe", 1000, 1)
    except Exception:
        await first.close()
        await second.close()
        pytest.skip("Redis unreachable")
    key = f"test:{secrets.token_hex(4)}"
    try:
        results = [await (first if i % 2 else second).hit(key, rate=1, burst=4) for i in range(8)]
        assert 4 <= results.count(0) <= 5  # one budget across both "processes"
    finally:
        await first.close()
        await second.close()
