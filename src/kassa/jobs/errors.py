"""The catalog entries of the codes the job queue's administration raises."""

from __future__ import annotations

from kassa.core.error_catalog import declare
from kassa.core.errors import Conflict

JOB_NOT_DEAD = declare("job_not_dead", Conflict, "Only a dead job can be retried.")
