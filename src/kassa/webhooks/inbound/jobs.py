"""Jobs of inbound webhooks: the invalid-signature alert (processing is payins' job,
``payins.apply_provider_event``, enqueued by the receiver by name)."""

from __future__ import annotations

from kassa.core.settings import Settings
from kassa.jobs.registry import JOBS
from kassa.notify import mailer_from_settings
from kassa.webhooks.inbound import alerts


def register(settings: Settings) -> None:
    """Called once per process by the composition root."""
    alerts.install(JOBS, mailer_from_settings(settings))
