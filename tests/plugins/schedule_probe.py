"""A one-second schedule of ``probe.tick`` (load with ``tests.plugins.jobs_probe``)."""

from __future__ import annotations

from datetime import timedelta

from kassa.jobs.scheduler import register_schedule

register_schedule("probe.every_second", "probe.tick", every=timedelta(seconds=1))
