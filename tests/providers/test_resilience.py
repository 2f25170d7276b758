"""Circuit breaker states, retries only for transient errors, a timeout on every call."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from kassa.core import clock
from kassa.core.metrics import REGISTRY
from kassa.providers.base import (
    DeclinedError,
    PermanentProviderError,
    RateLimitedError,
    TransientProviderError,
)
from kassa.providers.resilience import (
    CallRecord,
    CircuitBreaker,
    CircuitOpenError,
    Guard,
    RetryPolicy,
)


async def _no_sleep(_: float) -> None:
    return None


def _guard(threshold: int = 3, attempts: int = 1, timeout: float = 5.0) -> Guard:
    return Guard(
        CircuitBreaker("p1", failure_threshold=threshold, reset_seconds=30),
        timeout=timeout,
        retry=RetryPolicy(attempts=attempts),
        sleep=_no_sleep,
    )


def _gauge(provider: str) -> float | None:
    return REGISTRY.get_sample_value("kassa_provider_circuit_state", {"provider": provider})


async def _fail() -> None:
    raise TransientProviderError("503", code="http_503")


async def _ok() -> str:
    return "ok"


async def test_breaker_opens_half_opens_and_closes() -> None:
    frozen = clock.FrozenClock()
    clock.install(frozen)
    guard = _guard(threshold=3)
    for _ in range(3):
        with pytest.raises(TransientProviderError):
            await guard.call(_fail, [])
    assert guard.breaker.state == "open" and _gauge("p1") == 2
    records: list[CallRecord] = []
    with pytest.raises(CircuitOpenError):
        await guard.call(_ok, records)  # fails fast, the provider is not called
    assert isinstance(records[0].error, CircuitOpenError)

    frozen.advance(timedelta(seconds=31))
    assert guard.breaker.state == "half_open"
    with pytest.raises(TransientProviderError):
        await guard.call(_fail, [])  # the trial fails: open again
    assert guard.breaker.state == "open"

    frozen.advance(timedelta(seconds=31))
    assert await guard.call(_ok, []) == "ok"  # the trial succeeds: closed
    assert guard.breaker.state == "closed" and _gauge("p1") == 0
    assert guard.breaker.health() == {"state": "closed", "consecutive_failures": 0}


async def test_declines_and_permanent_errors_do_not_trip_the_breaker() -> None:
    guard = _guard(threshold=1, attempts=3)
    calls = 0

    async def decline() -> None:
        nonlocal calls
        calls += 1
        raise DeclinedError("no", decline_code="insufficient_funds")

    async def refuse() -> None:
        nonlocal calls
        calls += 1
        raise PermanentProviderError("bad", code="invalid_payee")

    for fn in (decline, refuse, decline):
        with pytest.raises((DeclinedError, PermanentProviderError)):
            await guard.call(fn, [])
    assert calls == 3  # never retried
    assert guard.breaker.state == "closed"


async def test_transient_errors_are_retried_with_backoff_then_succeed() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    guard = Guard(
        CircuitBreaker("p2", failure_threshold=10),
        retry=RetryPolicy(attempts=3, base_delay=0.1),
        sleep=sleep,
    )
    tries = 0

    async def flaky() -> str:
        nonlocal tries
        tries += 1
        if tries < 3:
            raise TransientProviderError("busy")
        return "done"

    records: list[CallRecord] = []
    assert await guard.call(flaky, records) == "done"
    assert waits == [0.1, 0.2]
    assert [r.error is None for r in records] == [False, False, True]


async def test_every_call_has_a_timeout_and_it_is_ambiguous() -> None:
    guard = _guard(timeout=0.01)
    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    with pytest.raises(TransientProviderError) as info:
        await guard.call(hang, [])
    assert info.value.code == "timeout" and info.value.ambiguous


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.05, max_delay=2.0)
    assert policy.delay(1, TransientProviderError("x", retry_after=1.0)) == 1.0
    assert policy.delay(1, TransientProviderError("x", retry_after=99.0)) == 2.0


async def _rate_limited() -> None:
    raise RateLimitedError("429", code="rate_limited", retry_after=0.5)


async def test_a_rate_limit_is_retried_but_never_counts_against_the_provider() -> None:
    """A 429 refuses one request; it is not an outage, however often it comes."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    guard = Guard(
        CircuitBreaker("p3", failure_threshold=1),
        retry=RetryPolicy(attempts=3, base_delay=0.1),
        sleep=sleep,
    )
    for _ in range(4):
        records: list[CallRecord] = []
        with pytest.raises(RateLimitedError):
            await guard.call(_rate_limited, records)
        assert len(records) == 3  # retried on the same provider, honouring Retry-After
    assert waits[:2] == [0.5, 0.5]
    assert guard.breaker.state == "closed" and guard.breaker.failures == 0
    with pytest.raises(TransientProviderError):
        await guard.call(_fail, [])  # a real failure still counts
    assert guard.breaker.state == "open"


async def test_a_rate_limited_or_cancelled_trial_leaves_the_breaker_half_open() -> None:
    frozen = clock.FrozenClock()
    clock.install(frozen)
    guard = _guard(threshold=1)
    with pytest.raises(TransientProviderError):
        await guard.call(_fail, [])
    frozen.advance(timedelta(seconds=31))
    with pytest.raises(RateLimitedError):
        await guard.call(_rate_limited, [])  # the trial says nothing: another may try
    assert guard.breaker.state == "half_open"

    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    trial = asyncio.create_task(guard.call(hang, []))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpenError):
        await guard.call(_ok, [])  # one trial at a time
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert await guard.call(_ok, []) == "ok"  # the cancelled trial did not jam the breaker
    assert guard.breaker.state == "closed"


async def test_a_call_admitted_before_the_circuit_opened_goes_through() -> None:
    frozen = clock.FrozenClock()
    clock.install(frozen)
    guard = _guard(threshold=1)
    admitted = clock.now().timestamp()
    frozen.advance(timedelta(seconds=1))
    with pytest.raises(TransientProviderError):
        await guard.call(_fail, [])  # opens after the admission
    assert guard.breaker.state == "open"
    assert await guard.call(_ok, [], admitted_at=admitted) == "ok"  # sent, like one in flight
    with pytest.raises(TransientProviderError):
        await guard.call(_fail, [])
    later = clock.now().timestamp() + 1
    records: list[CallRecord] = []
    with pytest.raises(CircuitOpenError) as refused:
        await guard.call(_ok, records, admitted_at=later)  # admitted while it was open: no
    assert refused.value.retry_after == 30
    assert guard.breaker.retry_after() == 30
    frozen.advance(timedelta(seconds=12))
    assert guard.breaker.retry_after() == 18
