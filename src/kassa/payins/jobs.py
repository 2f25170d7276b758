"""The pay-ins context's jobs and schedules, registered by the composition root."""

from __future__ import annotations

from datetime import timedelta

from kassa.core.settings import Settings
from kassa.jobs import JobContext, register_job
from kassa.jobs.scheduler import register_schedule
from kassa.payins import events as _events
from kassa.payins.reconcile import reconcile
from kassa.providers.registry import ProviderRegistry, build_registry

_ = _events


def register(settings: Settings, registry: ProviderRegistry | None = None) -> None:
    """``payins.reconcile`` every minute: settle what stayed in flight past the threshold."""
    providers = registry or build_registry(settings)
    older_than = timedelta(seconds=settings.reconcile_after_seconds)

    async def run(ctx: JobContext) -> None:
        # Uses its own transactions (never ctx.session): providers are called between them.
        await reconcile(ctx.sessions, providers, older_than=older_than)

    register_job("payins.reconcile", run, max_attempts=3, timeout_seconds=600)
    register_schedule("payins.reconcile", "payins.reconcile", every=timedelta(minutes=1))
