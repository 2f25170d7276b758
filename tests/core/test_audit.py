"""The audit entry commits with the change it records, or not at all."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kassa.accounts.accounts import create_account
from kassa.accounts.models import Account
from kassa.core import context
from kassa.core.audit import AuditEntry
from kassa.core.db import transaction
from tests.conftest import Backend


async def test_audit_entry_commits_with_the_change(db: Backend) -> None:
    context.set_context(
        context.RequestContext(
            request_id="req_1", actor="user:usr_1", ip="203.0.113.9", user_agent="curl/8"
        )
    )
    async with transaction(db.sessions) as session:
        account = await create_account(session, name="Acme", email="ops@acme.test")
    async with db.sessions() as session:
        entry = (await session.scalars(select(AuditEntry))).one()
    assert entry.object_id == account.id
    assert entry.action == "account.create"
    assert entry.actor == "user:usr_1"
    assert (entry.request_id, entry.ip, entry.user_agent) == ("req_1", "203.0.113.9", "curl/8")
    assert entry.after == {"name": "Acme", "email": "ops@acme.test"}
    context.set_context(context.RequestContext())


async def test_a_rolled_back_change_leaves_no_audit_entry(db: Backend) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with transaction(db.sessions) as session:
            await create_account(session, name="Ghost")
            await session.flush()  # the rows reached the database inside the transaction
            raise Boom
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Account)) == 0
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 0


async def test_audit_never_stores_secrets(db: Backend) -> None:
    from kassa.core import audit

    async with transaction(db.sessions) as session:
        audit.record(
            session,
            action="x.update",
            object_type="x",
            object_id="x_1",
            account_id=None,
            after={"password": "hunter2hunter2", "note": "sk_test_abc123", "name": "fine"},
        )
    async with db.sessions() as session:
        entry = (await session.scalars(select(AuditEntry))).one()
    assert entry.after == {"password": "[redacted]", "note": "[redacted]", "name": "fine"}
