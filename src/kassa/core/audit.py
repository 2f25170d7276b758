"""Append-only audit log, written in the caller's transaction with the change it records."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kassa.core import clock, context
from kassa.core.changes import Writes, writable
from kassa.core.db import Base
from kassa.core.ids import new_id
from kassa.core.redact import redact


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str | None] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(index=True)


writable(AuditEntry)  # written through change sets (core.executor)


def record(
    session: Writes,
    *,
    action: str,
    object_type: str,
    object_id: str,
    account_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session`` (or a change set); it commits (or not) with the
    change itself."""
    ctx = context.current()
    entry = AuditEntry(
        id=new_id("aud"),
        account_id=account_id,
        actor=actor or ctx.actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=redact(before) if before is not None else None,
        after=redact(after) if after is not None else None,
        request_id=ctx.request_id,
        ip=ctx.ip,
        user_agent=(ctx.user_agent or "")[:400] or None,
        created_at=clock.now(),
    )
    session.add(entry)
    return entry


class Identified(Protocol):
    """A row with a string id (every kassa table's primary key)."""

    @property
    def id(self) -> str: ...


Row = TypeVar("Row", bound=Identified)


def add_created(
    session: Writes, row: Row, object_type: str, *, account_id: str | None, after: dict[str, Any]
) -> Row:
    """Add a new ``row`` and its ``<object_type>.create`` entry recording ``after`` (the
    fields worth keeping; secrets are redacted anyway) to the same session or change set, so
    the row and its record commit together or not at all. Returns ``row``."""
    session.add(row)
    record(
        session,
        action=f"{object_type}.create",
        object_type=object_type,
        object_id=row.id,
        account_id=account_id,
        after=after,
    )
    return row
