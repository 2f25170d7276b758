"""The composition root: registers every context's jobs, event subscribers and schedules.

Every process (API, worker, CLI) calls ``build()`` once at start-up, so all of them agree on
which jobs exist and who listens to which event.
"""

from __future__ import annotations

import importlib
from datetime import timedelta

from kassa.accounts import idempotency
from kassa.core.settings import Settings
from kassa.jobs import JobContext, register_job
from kassa.jobs.admin import purge_finished
from kassa.jobs.scheduler import register_schedule
from kassa.payins import jobs as payins_jobs
from kassa.webhooks.outbound.jobs import register as _webhooks_register

_built = False


def build(settings: Settings) -> None:
    global _built
    if _built:
        return
    _register_jobs_context(settings)
    payins_jobs.register(settings)
    _webhooks_register(settings)
    idempotency.register(settings)
    for module in settings.plugins:
        # A plugin is a module whose import registers extra jobs, subscribers or schedules.
        importlib.import_module(module)
    _built = True


def _register_jobs_context(settings: Settings) -> None:
    retention = settings.job_retention_hours

    async def purge(ctx: JobContext) -> None:
        await purge_finished(ctx.session, older_than_hours=retention)

    register_job("jobs.purge", purge, max_attempts=3)
    register_schedule("jobs.purge", "jobs.purge", every=timedelta(hours=1))
