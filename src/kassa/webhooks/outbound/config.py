"""What outbound webhooks need from the settings, parsed once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from kassa.core.settings import Settings
from kassa.webhooks.outbound.schedule import parse_schedule


@dataclass(frozen=True)
class OutboundConfig:
    allow_private: bool = False
    timeout: float = 15.0
    schedule: tuple[timedelta, ...] = ()
    retry_after_max: timedelta = timedelta(hours=1)
    max_in_flight: int = 10
    disable_after: timedelta = timedelta(days=5)
    failing_min_span: timedelta = timedelta(hours=12)
    secret_grace: timedelta = timedelta(days=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundConfig:
        return cls(
            allow_private=settings.webhook_allow_private,
            timeout=settings.webhook_timeout_seconds,
            schedule=parse_schedule(settings.webhook_retry_schedule),
            retry_after_max=timedelta(seconds=settings.webhook_retry_after_max_seconds),
            max_in_flight=settings.webhook_max_in_flight_per_endpoint,
            disable_after=timedelta(seconds=settings.webhook_disable_after_seconds),
            failing_min_span=timedelta(seconds=settings.webhook_failing_min_span_seconds),
            secret_grace=timedelta(seconds=settings.webhook_secret_grace_seconds),
        )

    @property
    def max_attempts(self) -> int:
        return len(self.schedule)
