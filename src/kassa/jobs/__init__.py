"""Transactional outbox, event bus, worker and scheduler.

``enqueue(session, name, args)`` and ``emit(session, type, data, ...)`` write in the caller's
transaction, so a job or event exists exactly when the change that caused it committed.
"""

from kassa.jobs.events import emit, subscribe
from kassa.jobs.outbox import enqueue
from kassa.jobs.registry import JobContext, Retry, register_job

__all__ = ["JobContext", "Retry", "emit", "enqueue", "register_job", "subscribe"]
