"""Circuit breakers, retries and timeouts around every provider call.

- A **circuit breaker** counts consecutive transient failures (timeouts, 5xx) of the calls it
  guards. At ``failure_threshold`` it opens: calls fail fast with ``CircuitOpenError``
  (transient, never ambiguous, so failover moves on) for ``reset_seconds``; then it is
  half-open and lets one trial call through: success closes it, failure opens it again.
  Declines and permanent errors say nothing bad about the provider's health (it answered)
  and close it; a rate limit (``RateLimitedError``) is one request refused, not an outage,
  and counts neither way. Which breaker guards a call (per provider, credentials, mode and,
  for test mode on the install's credentials, account) is ``breakers.py``'s business.
- **Retries** with exponential backoff, only for transient errors, on the same provider with
  the same idempotency key (so a retry can never charge twice).
- A **timeout** on every call; hitting it is an *ambiguous* transient error: the provider may
  have acted, so only that provider, asked with the same key, can tell what happened.
- **Admission**: a call made for something the breaker already admitted at ``admitted_at``
  (a payment whose intent was written because its circuit said yes) is not refused by a
  circuit that only started refusing after that moment: it goes through like the calls that
  were already in flight when the circuit opened.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from prometheus_client import Gauge

from kassa.core import clock
from kassa.core.metrics import REGISTRY
from kassa.providers.base import ProviderError, RateLimitedError, TransientProviderError
from kassa.providers.errors import TIMEOUT

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]
STATE_VALUE = {"closed": 0, "half_open": 1, "open": 2}

circuit_state = Gauge(
    "kassa_provider_circuit_state",
    "Circuit breaker per provider for the install's own credentials in live mode "
    "(the one every live payment on them shares): 0 closed, 1 half-open, 2 open.",
    ["provider"],
    registry=REGISTRY,
)


class CircuitOpenError(TransientProviderError):
    code = "circuit_open"


class CircuitBreaker:
    """One breaker. ``published``: it reports its state in ``kassa_provider_circuit_state``
    on every change (a breaker that belongs to one account never does: see breakers.py)."""

    def __init__(
        self,
        provider: str,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        published: bool = True,
    ) -> None:
        self.provider = provider
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self.published = published
        self.failures = 0
        self.opened_at: float | None = None
        self.in_flight = 0  # calls let through that have not ended yet
        self._trial_started_at: float | None = None  # the half-open trial call is running
        self._publish()

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return "closed"
        if clock.now().timestamp() - self.opened_at >= self.reset_seconds:
            return "half_open"
        return "open"

    @property
    def at_rest(self) -> bool:
        """Nothing a freshly made breaker would not also know: safe to forget."""
        return self.opened_at is None and self.failures == 0 and self.in_flight == 0

    def _publish(self) -> None:
        if self.published:
            circuit_state.labels(self.provider).set(STATE_VALUE[self.state])

    def refusing_since(self) -> float | None:
        """Since when calls are refused (a timestamp), or None when one may go through now."""
        state = self.state
        if state == "open":
            return self.opened_at
        if state == "half_open" and self._trial_started_at is not None:
            return self._trial_started_at
        return None

    def retry_after(self) -> int:
        """Whole seconds until a call may go through again (0: now)."""
        if self.refusing_since() is None:
            return 0
        assert self.opened_at is not None
        left = self.opened_at + self.reset_seconds - clock.now().timestamp()
        return max(1, math.ceil(left))  # half-open with its trial running: about a second

    def before_call(self, *, admitted_at: float | None = None) -> bool:
        """Raise CircuitOpenError unless a call may go through now; True when this call is
        the half-open trial. A call admitted at ``admitted_at`` goes through a circuit that
        only started refusing at or after that moment."""
        since = self.refusing_since()
        if since is not None and (admitted_at is None or since < admitted_at):
            self._publish()
            raise CircuitOpenError(
                f"Provider {self.provider} is failing; its circuit is open.",
                provider=self.provider,
                retry_after=float(self.retry_after()),
            )
        trial = since is None and self.state == "half_open"
        if trial:
            self._trial_started_at = clock.now().timestamp()
        self.in_flight += 1
        self._publish()
        return trial

    def on_success(self, trial: bool = False) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial_started_at = None
        self._ended(trial)

    def on_failure(self, trial: bool = False) -> None:
        self.failures += 1
        if (trial and self.opened_at is not None) or self.failures >= self.failure_threshold:
            self.opened_at = clock.now().timestamp()
        self._ended(trial)

    def on_neutral(self, trial: bool = False) -> None:
        """A call that ended with a decline or permanent error: the provider did answer."""
        self.on_success(trial)

    def on_ignored(self, trial: bool = False) -> None:
        """A call that says nothing about the provider's health (a rate limit for one
        request, a cancelled call): no count either way; a trial leaves its place to the next."""
        self._ended(trial)

    def _ended(self, trial: bool) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        if trial:
            self._trial_started_at = None
        self._publish()

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

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        records: list[CallRecord],
        *,
        admitted_at: float | None = None,
    ) -> T:
        """Run ``fn`` with timeout, breaker and retries; every try is appended to ``records``.
        ``admitted_at``: when the breaker admitted what this call is for (its first try is not
        refused by a circuit that opened since; see the module docstring)."""
        provider = self.breaker.provider
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                trial = self.breaker.before_call(admitted_at=admitted_at if attempt == 1 else None)
            except CircuitOpenError as exc:
                records.append(CallRecord(provider, exc, 0))
                raise
            try:
                try:
                    async with asyncio.timeout(self.timeout):
                        result = await fn()
                except TimeoutError as exc:
                    raise TransientProviderError(
                        f"No answer from {provider} within {self.timeout:g} s.",
                        provider=provider,
                        code=TIMEOUT,
                        ambiguous=True,
                    ) from exc
            except RateLimitedError as exc:  # this request was refused; the provider is fine
                self.breaker.on_ignored(trial)
                records.append(CallRecord(provider, exc, _ms(started)))
                if attempt >= self.retry.attempts:
                    raise
                await self.sleep(self.retry.delay(attempt, exc))
                continue
            except TransientProviderError as exc:
                self.breaker.on_failure(trial)
                records.append(CallRecord(provider, exc, _ms(started)))
                if attempt >= self.retry.attempts or self.breaker.state == "open":
                    raise
                await self.sleep(self.retry.delay(attempt, exc))
                continue
            except ProviderError as exc:
                self.breaker.on_neutral(trial)
                records.append(CallRecord(provider, exc, _ms(started)))
                raise
            except BaseException:  # cancelled, or a bug: nothing learned, the trial is free
                self.breaker.on_ignored(trial)
                raise
            self.breaker.on_success(trial)
            records.append(CallRecord(provider, None, _ms(started)))
            return result


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
