"""Circuit breakers per provider credentials and mode: one merchant's test scenarios never open
a circuit another merchant, or live traffic, goes through; /health and /metrics stay bounded."""

from __future__ import annotations

from typing import Any

import pytest

from kassa.core.metrics import REGISTRY
from kassa.providers.base import RateLimitedError, TransientProviderError
from kassa.providers.breakers import BreakerPool, CallScope, breaker_key
from kassa.providers.mock import MockProvider
from kassa.providers.registry import GuardPolicy, ProviderRegistry
from kassa.providers.resilience import CircuitBreaker, CircuitOpenError, RetryPolicy

E_TEST = CallScope("acct_E", livemode=False)
F_TEST = CallScope("acct_F", livemode=False)
E_LIVE = CallScope("acct_E", livemode=True)
G_LIVE = CallScope("acct_G", livemode=True)
H_LIVE = CallScope("acct_H", livemode=True)


def _registry(name: str) -> ProviderRegistry:
    return ProviderRegistry(
        {name: MockProvider(name)},
        GuardPolicy(failure_threshold=2, retry=RetryPolicy(attempts=1)),
        default=name,
    )


async def _outage() -> None:
    raise TransientProviderError("503", code="provider_down")


async def _rate_limited() -> None:
    raise RateLimitedError("429", code="rate_limited")


async def _ok() -> str:
    return "ok"


async def _fail_twice(registry: ProviderRegistry, name: str, scope: CallScope) -> None:
    for _ in range(2):
        with pytest.raises(TransientProviderError):
            await registry.guard(name, scope).call(_outage, [])


def _metric(metric: str, provider: str) -> float | None:
    return REGISTRY.get_sample_value(metric, {"provider": provider})


async def _health(registry: ProviderRegistry, name: str) -> tuple[Any, Any]:
    health = await registry.health()
    return health["status"], health["providers"][name]  # type: ignore[index]


async def test_one_accounts_test_mode_outage_opens_only_its_own_circuit() -> None:
    registry = _registry("brk_a")
    await _fail_twice(registry, "brk_a", E_TEST)
    with pytest.raises(CircuitOpenError):
        await registry.guard("brk_a", E_TEST).call(_ok, [])
    # Another account's test mode, and live traffic (even E's own), are untouched.
    assert await registry.guard("brk_a", F_TEST).call(_ok, []) == "ok"
    assert await registry.guard("brk_a", E_LIVE).call(_ok, []) == "ok"
    status, mock = await _health(registry, "brk_a")
    assert status == "ok"  # one merchant's test scenario is not the install's outage
    assert mock == {"state": "closed", "consecutive_failures": 0, "account_circuits_open": 1}
    assert _metric("kassa_provider_circuit_state", "brk_a") == 0
    assert _metric("kassa_provider_account_circuits_open", "brk_a") == 1


async def test_rate_limits_answered_to_one_account_never_open_a_circuit() -> None:
    registry = _registry("brk_b")
    for _ in range(5):
        with pytest.raises(RateLimitedError):
            await registry.guard("brk_b", E_TEST).call(_rate_limited, [])
    assert registry.breaker("brk_b", E_TEST).state == "closed"
    assert await registry.guard("brk_b", F_TEST).call(_ok, []) == "ok"


async def test_live_failures_on_the_installs_credentials_are_one_shared_circuit() -> None:
    registry = _registry("brk_c")
    await _fail_twice(registry, "brk_c", G_LIVE)
    with pytest.raises(CircuitOpenError):
        await registry.guard("brk_c", H_LIVE).call(_ok, [])  # a real outage is everybody's
    assert await registry.guard("brk_c", E_TEST).call(_ok, []) == "ok"  # test mode apart
    status, mock = await _health(registry, "brk_c")
    assert status == "degraded" and mock["state"] == "open"
    assert _metric("kassa_provider_circuit_state", "brk_c") == 2


async def test_an_accounts_own_credentials_have_their_own_circuit() -> None:
    registry = _registry("brk_d")
    own = CallScope("acct_E", livemode=True, credentials_id="cred_E")
    await _fail_twice(registry, "brk_d", own)
    assert registry.breaker("brk_d", own).state == "open"
    assert registry.breaker("brk_d", G_LIVE).state == "closed"
    assert breaker_key("brk_d", own) != breaker_key("brk_d", E_LIVE)
    assert breaker_key("brk_d", E_LIVE) == breaker_key("brk_d", G_LIVE)
    assert breaker_key("brk_d", E_TEST) != breaker_key("brk_d", F_TEST)


def test_the_pool_forgets_breakers_at_rest_and_keeps_failing_ones() -> None:
    pool = BreakerPool(lambda key: CircuitBreaker(key.provider, published=False))
    failing = pool.get(breaker_key("brk_e", CallScope("acct_failing", False)))
    failing.on_failure()
    for i in range(20_000):  # accounts that called once, successfully
        pool.get(breaker_key("brk_e", CallScope(f"acct_{i}", False)))
    assert len(pool) < 3_000
    assert pool.get(breaker_key("brk_e", CallScope("acct_failing", False))) is failing
