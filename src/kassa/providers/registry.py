"""Named provider configurations -> adapter instances, each behind its own guard.

A provider *name* is what payments record (``mock``, ``mock_b``, ``stripe``); its *kind* is the
part before the first underscore and picks the adapter factory, so several configurations of
one kind can live side by side (``mock`` and ``mock_b`` for trying failover). Which names are
enabled: ``PAYMENT_PROVIDER`` (the default), ``KASSA_PROVIDER_FAILOVER`` and ``KASSA_PROVIDERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kassa.core.errors import ConfigurationError, InvalidRequest
from kassa.core.settings import Settings
from kassa.providers.base import PayinProvider
from kassa.providers.mock import MockProvider
from kassa.providers.resilience import CircuitBreaker, Guard, RetryPolicy

Factory = Callable[[str, Settings], PayinProvider]


def _mock(name: str, settings: Settings) -> PayinProvider:
    return MockProvider(
        name, failure_rate=settings.mock_failure_rate, delay=settings.mock_payment_delay
    )


FACTORIES: dict[str, Factory] = {"mock": _mock}


def register_factory(kind: str, factory: Factory) -> None:
    """Adapters (stripe/, paypal/, ...) make themselves available by kind."""
    FACTORIES[kind] = factory


def kind_of(name: str) -> str:
    return name.split("_", 1)[0]


def _names(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


@dataclass
class ProviderRegistry:
    providers: dict[str, PayinProvider]
    guards: dict[str, Guard]
    default: str
    failover: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return sorted(self.providers)

    def get(self, name: str) -> PayinProvider:
        try:
            return self.providers[name]
        except KeyError:
            raise InvalidRequest(
                f"Unknown provider {name!r}; enabled: {', '.join(self.names)}.",
                code="unknown_provider",
                param="provider",
            ) from None

    def check_mode(self, name: str, *, livemode: bool) -> None:
        """Live-mode money never goes to a provider that only simulates (like Stripe, which
        refuses test cards for live keys)."""
        provider = self.get(name)  # unknown_provider first
        if livemode and getattr(provider, "test_only", False):
            raise InvalidRequest(
                f"The {name!r} provider only simulates payments; it takes test-mode keys "
                "(sk_test_...). Configure a real provider (PAYMENT_PROVIDER) for live keys.",
                code="provider_test_mode_only",
                param="provider",
            )

    def guard(self, name: str) -> Guard:
        return self.guards[name]

    def chain(self, first: str | None) -> list[str]:
        """Providers to try in order: the chosen one, then the failover order (if on)."""
        start = first or self.default
        self.get(start)
        return [start, *(n for n in self.failover if n != start)]

    async def health(self) -> dict[str, object]:
        """For /health: each provider's circuit; degraded when any circuit is not closed."""
        circuits = {name: guard.breaker.health() for name, guard in sorted(self.guards.items())}
        closed = all(c["state"] == "closed" for c in circuits.values())
        return {"status": "ok" if closed else "degraded", "providers": circuits}


def build_registry(
    settings: Settings, *, extra_providers: dict[str, PayinProvider] | None = None
) -> ProviderRegistry:
    failover = tuple(_names(settings.provider_failover))
    wanted = [settings.payment_provider, *failover, *_names(settings.providers_enabled)]
    providers: dict[str, PayinProvider] = dict(extra_providers or {})
    for name in dict.fromkeys(wanted):
        if name in providers:
            continue
        factory = FACTORIES.get(kind_of(name))
        if factory is None:
            raise ConfigurationError(
                f"No adapter for provider {name!r}; known kinds: {', '.join(sorted(FACTORIES))}."
            )
        providers[name] = factory(name, settings)
    retry = RetryPolicy(attempts=settings.provider_retry_attempts)
    guards = {
        name: Guard(
            CircuitBreaker(
                name,
                failure_threshold=settings.circuit_failure_threshold,
                reset_seconds=settings.circuit_reset_seconds,
            ),
            timeout=settings.provider_timeout_seconds,
            retry=retry,
        )
        for name in providers
    }
    return ProviderRegistry(providers, guards, settings.payment_provider, failover)
