"""The audit entry for a refused request (403): who tried what, and why it was refused."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts.principal import Principal
from kassa.core import audit
from kassa.core.errors import PermissionDenied

ACTION = "access.denied"


def record_refusal(
    session: AsyncSession,
    principal: Principal | None,
    refusal: PermissionDenied,
    *,
    method: str,
    route: str,
) -> audit.AuditEntry:
    """Add the entry to ``session``; the caller commits it apart from the refused change.

    The object is the credential that was refused (``api_key``/``user`` and its id), so an
    account's audit log shows which key keeps trying what it may not."""
    kind, _, object_id = (principal.actor if principal else "anonymous:").partition(":")
    return audit.record(
        session,
        action=ACTION,
        object_type=kind,
        object_id=object_id or "-",
        account_id=principal.account_id if principal else None,
        after={"code": refusal.code, "method": method, "route": route, **refusal.details},
    )
