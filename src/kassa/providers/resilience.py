"""Circuit breakers, retries and timeouts around every provider call.

- A **circuit breaker** per provider counts consecutive transient failures (timeouts, 5xx,
  rate limits). At ``failure_threshold`` it opens: calls fail fast with ``CircuitOpenError``
  (transient, never ambiguous, so failover moves on) for ``reset_seconds``; then it is
  half-open and lets one trial call through: success closes it, failure opens it again.
  Declines and permanent errors say nothing about the provider's health and do not count.
- **Retries** with exponential backoff, only for transient errors, on the same provider with
  the same idempotency key (so a retry can never charge twice).
- A **timeout** on every call; hitting it is an *ambiguous* transient error: the provider may
  have acted, so only that provider, asked with the same key, can tell what happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from prometheus_client import Gauge

from kassa.core import clock
from kassa.core.metrics import REGISTRY
from kassa.providers.base import ProviderError, TransientProviderError

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]
_STATE_VALUE = {"closed": 0, "half_open": 1, "open": 2}

circuit_state = Gauge(
    "kassa_provider_circuit_state",
    "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open.",
    ["provider"],
    registry=REGISTRY,
)


class CircuitOpenError(TransientProviderError):
    code = "circuit_open"


class CircuitBreaker:
    def __init__(
        self, provider: str, *, failure_threshold: int = 5, reset_seconds: float = 30.0
    ) -> None:
        self.provider = provider
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_running = False
        self._publish()

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return "closed"
        if clock.now().timestamp() - self.opened_at >= self.reset_seconds:
            return "half_open"
        return "open"

    def _publish(self) -> None:
        circuit_state.labels(self.provider).set(_STATE_VALUE[self.state])

    def before_call(self) -> None:
        """Raise CircuitOpenError unless a call may go through now."""
        state = self.state
        if state == "open" or (state == "half_open" and self._trial_running):
            self._publish()
            raise CircuitOpenError(
                f"Provider {self.provider} is failing; its circuit is open.",
                provider=self.provider,
            )
        if state == "half_open":
            self._trial_running = True
        self._publish()

    def on_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial_running = False
        self._publish()

    def on_failure(self) -> None:
        self.failures += 1
        if self._trial_running or self.failures >= self.failure_threshold:
            self.opened_at = clock.now().timestamp()
        self._trial_running = False
        self._publish()

    def on_neutral(self) -> None:
        """A call that ended with a decline or permanent error: the provider did answer."""
        self.on_success()

    def health(self) -> dict[str, object]:
        return {"state": self.state, "consecutive_failures": self.failures}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # tries in all, on the same provider
    base_delay: float = 0.05
    max_delay: float = 2.0

    def delay(self, attempt: int, error: TransientProviderError) -> float:
        wait: float = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        if error.retry_after is not None:
            wait = min(self.max_delay, max(wait, error.retry_after))
        return wait


@dataclass
class CallRecord:
    """One try of one provider call, for the payment's attempts."""

    provider: str
    error: ProviderError | None
    elapsed_ms: int


@dataclass
class Guard:
    """What wraps every call to one provider: its breaker, the timeout and the retry policy."""

    breaker: CircuitBreaker
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def call(self, fn: Callable[[], Awaitable[T]], records: list[CallRecord]) -> T:
        """Run ``fn`` with timeout, breaker and retries; every try is appended to ``records``."""
        provider = self.breaker.provider
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                self.breaker.before_call()
                try:
                    async with asyncio.timeout(self.timeout):
                        result = await fn()
                except TimeoutError as exc:
                    raise TransientProviderError(
                        f"No answer from {provider} within {self.timeout:g} s.",
                        provider=provider,
                        code="timeout",
                        ambiguous=True,
                    ) from exc
            except CircuitOpenError as exc:
                records.append(CallRecord(provider, exc, 0))
                raise
            except TransientProviderError as exc:
                self.breaker.on_failure()
                records.append(CallRecord(provider, exc, _ms(started)))
                if attempt >= self.retry.attempts or self.breaker.state == "open":
                    raise
                await self.sleep(self.retry.delay(attempt, exc))
                continue
            except ProviderError as exc:
                self.breaker.on_neutral()
                records.append(CallRecord(provider, exc, _ms(started)))
                raise
            self.breaker.on_success()
            records.append(CallRecord(provider, None, _ms(started)))
            return result


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
