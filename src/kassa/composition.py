"""The composition root: builds the providers and registers every context's jobs, event
subscribers and schedules.

Every process (API, worker, CLI) calls ``build()`` once at start-up and uses what it returns,
so all of them agree on which jobs exist, who listens to which event, and which provider
adapters (with their circuit breakers) serve them; nothing else builds a provider registry.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import timedelta

from kassa.accounts import idempotency
from kassa.accounts import jobs as accounts_jobs
from kassa.chain import jobs as chain_jobs
from kassa.core.settings import Settings
from kassa.jobs import JobContext, register_job
from kassa.jobs.admin import purge_finished
from kassa.jobs.scheduler import register_schedule
from kassa.payins import jobs as payins_jobs
from kassa.payins.sessions import jobs as sessions_jobs
from kassa.payins.sessions import links, refund_jobs
from kassa.payouts import jobs as payouts_jobs
from kassa.providers.registry import ProviderRegistry, build_registry
from kassa.webhooks.inbound.jobs import register as _inbound_register
from kassa.webhooks.outbound.jobs import register as _webhooks_register


@dataclass(frozen=True)
class Composition:
    settings: Settings
    providers: ProviderRegistry


_process: Composition | None = None  # the first: its providers serve the registered jobs
_others: dict[int, Composition] = {}  # by id(settings); the settings are kept alive in it


def build(settings: Settings) -> Composition:
    """The process's composition for ``settings``, built once: the first call also registers
    every context's jobs and events. (In-process tests create apps with settings of their own:
    each such settings object gets its own providers; jobs stay registered once.)"""
    global _process
    links.set_public_url(settings.base_url)  # checkout URLs in events as in responses
    if _process is not None:
        if _process.settings is settings:
            return _process
        known = _others.get(id(settings))
        if known is None:
            known = _others[id(settings)] = Composition(settings, build_registry(settings))
        return known
    composition = Composition(settings, build_registry(settings))
    _register_jobs_context(settings)
    payins_jobs.register(settings, composition.providers)
    sessions_jobs.register()
    _webhooks_register(settings)
    _inbound_register(settings)
    idempotency.register(settings)
    accounts_jobs.register(settings)
    payouts_jobs.register(settings)
    if settings.chains:
        chain_jobs.register(settings)
        refund_jobs.register(settings)
    for module in settings.plugins:
        # A plugin is a module whose import registers extra jobs, subscribers or schedules.
        importlib.import_module(module)
    _process = composition
    return composition


def _register_jobs_context(settings: Settings) -> None:
    retention = settings.job_retention_hours

    async def purge(ctx: JobContext) -> None:
        await purge_finished(ctx.session, older_than_hours=retention)

    register_job("jobs.purge", purge, max_attempts=3)
    register_schedule("jobs.purge", "jobs.purge", every=timedelta(hours=1))
