"""The pay-ins context's jobs and schedules, registered by the composition root."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.accounts.provider_credentials.source import StoredCredentials
from kassa.core.settings import Settings
from kassa.jobs import JobContext, register_job
from kassa.jobs.registry import Handler
from kassa.jobs.scheduler import register_schedule
from kassa.payins import confirm
from kassa.payins import events as _events
from kassa.payins.provider_events.handler import JOB as APPLY_PROVIDER_EVENT
from kassa.payins.provider_events.handler import CompleteAction, apply_provider_event
from kassa.payins.reconcile import reconcile
from kassa.providers.registry import ProviderRegistry

_ = _events


def register(settings: Settings, providers: ProviderRegistry) -> None:
    """``payins.reconcile`` every minute: settle what stayed in flight past the threshold,
    confirm payments left waiting for the customer and cancel abandoned ones, asking the
    process's providers (the composition root's)."""
    older_than = timedelta(seconds=settings.reconcile_after_seconds)
    confirm_after = timedelta(seconds=settings.action_confirm_after_seconds)
    expires_after = timedelta(seconds=settings.action_expires_after_seconds)

    async def run(ctx: JobContext) -> None:
        # Uses its own transactions (never ctx.session): providers are called between them,
        # each with the credentials of the payment's account (its own, else the install's).
        source = StoredCredentials.of(ctx.sessions, settings.secret_key_bytes())
        await reconcile(
            ctx.sessions,
            providers.bind(source),
            older_than=older_than,
            action_confirm_after=confirm_after,
            action_expires_after=expires_after,
        )

    register_job("payins.reconcile", run, max_attempts=3, timeout_seconds=600)
    register_schedule("payins.reconcile", "payins.reconcile", every=timedelta(minutes=1))

    async def complete_action(
        sessions: async_sessionmaker[AsyncSession], payment_id: str, trigger: str
    ) -> object:
        # An event says the customer acted (or gave up): the provider is asked, and decides,
        # with the credentials of the payment's account.
        source = StoredCredentials.of(sessions, settings.secret_key_bytes())
        return await confirm.complete_customer_action(
            sessions, providers.bind(source), payment_id, trigger=trigger
        )

    job = provider_event_job(complete_action=complete_action)
    register_job(APPLY_PROVIDER_EVENT, job, max_attempts=10, timeout_seconds=120)


def provider_event_job(*, complete_action: CompleteAction | None) -> Handler:
    """The handler of ``payins.apply_provider_event`` (kwarg ``inbound_event_id``). It uses
    its own transactions (never ctx.session): each step commits through the executor."""

    async def apply_event(ctx: JobContext) -> None:
        await apply_provider_event(
            ctx.sessions, str(ctx.args["inbound_event_id"]), complete_action=complete_action
        )

    return apply_event
