"""Rate limits: the in-process limiter and the Redis one shared by several API processes."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassa.accounts.ratelimit import (
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    build_limiter,
)
from tests.conftest import Backend
from tests.factories import merchant
from tests.openapi_conformance import api_transport

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


async def test_without_redis_each_of_n_processes_allows_its_share() -> None:
    key = f"test:{secrets.token_hex(4)}"
    single = MemoryRateLimiter()
    alone = [await single.hit(key, rate=4, burst=2) for _ in range(20)].count(0)
    one_of_four = MemoryRateLimiter(processes=4)
    share = [await one_of_four.hit(key, rate=4, burst=2) for _ in range(20)].count(0)
    assert 8 <= alone <= 9  # 4/s with 2 s of burst
    assert 2 <= share <= 3  # a quarter: four such processes together allow the limit, not 4x


async def test_a_small_share_still_lets_one_request_through() -> None:
    # 1/s split over 4 processes is one request per 4 s, more than the 2 s burst: the first
    # request must pass all the same, and the next one wait
    limiter = MemoryRateLimiter(processes=4)
    assert await limiter.hit("k", rate=1, burst=2) == 0
    assert await limiter.hit("k", rate=1, burst=2) >= 1


async def test_the_limiter_is_shared_through_redis_or_divided_among_the_api_processes() -> None:
    divided = build_limiter(redis_url=None, api_workers=3)
    assert isinstance(divided, MemoryRateLimiter) and divided.share == 1 / 3
    shared = build_limiter(redis_url=REDIS_URL, api_workers=3)  # one budget: nothing to divide
    assert isinstance(shared, RedisRateLimiter)
    await shared.close()


async def test_the_api_divides_the_per_key_limit_among_its_workers(
    db: Backend, tmp_path: Path
) -> None:
    from kassa.api.app import create_app

    async def allowed(workers: int) -> int:
        settings = db.settings(
            tmp_path, rate_limit_per_key=4, rate_limit_burst=2, api_workers=workers
        )
        app = create_app(settings)
        acme = await merchant(db.sessions, f"Acme {workers}")
        transport = api_transport(app, raise_app_exceptions=True)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                codes = [
                    (await c.get("/v1/account", headers=acme.auth)).status_code for _ in range(12)
                ]
        finally:
            await app.state.kassa.engine.dispose()
        return codes.count(200)

    assert 8 <= await allowed(1) <= 9
    assert 4 <= await allowed(2) <= 5  # two such processes together: the configured limit


def test_kassa_serve_tells_its_processes_how_many_they_are(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from kassa.cli import app
    from kassa.core.settings import get_settings, reset_settings_cache

    started: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.update(kw))
    monkeypatch.setenv("KASSA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("KASSA_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("KASSA_API_WORKERS", "1")
    reset_settings_cache()
    try:
        result = CliRunner().invoke(app, ["serve", "--workers", "3"])
        assert result.exit_code == 0, result.output
        assert started["workers"] == 3
        # the worker processes read it (and a single process, these very settings)
        assert os.environ["KASSA_API_WORKERS"] == "3"
        assert get_settings().api_workers == 3
    finally:
        reset_settings_cache()
