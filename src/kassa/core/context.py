"""Per-request (or per-job) context: who is acting and which request this is.

Set by the API middleware or the job runner; read by audit and logging, so use cases need not
pass it around.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str | None = None
    actor: str = "system"
    ip: str | None = None
    user_agent: str | None = None


_current: ContextVar[RequestContext] = ContextVar("kassa_request_context", default=RequestContext())


def current() -> RequestContext:
    return _current.get()


def set_context(ctx: RequestContext) -> object:
    return _current.set(ctx)


def update(**changes: str | None) -> None:
    """Replace fields of the current context (e.g. the actor once the caller is known)."""
    ctx = _current.get()
    values = {
        "request_id": ctx.request_id,
        "actor": ctx.actor,
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
    }
    values.update(changes)
    _current.set(RequestContext(**values))  # type: ignore[arg-type]
