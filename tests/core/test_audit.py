"""The audit entry commits with the change it records, or not at all."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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


async def _create_one_of_each(session: AsyncSession) -> dict[str, tuple[str, str]]:
    """Every use case that creates an audited row: {object type: (row id, account id)}."""
    from kassa.accounts.api_keys import create_api_key
    from kassa.accounts.users import create_user
    from kassa.payins.customers import create_customer
    from kassa.payins.payment_methods import create_payment_method
    from kassa.providers.base import MethodDetails, PaymentMethodResult
    from kassa.webhooks.outbound.config import OutboundConfig
    from kassa.webhooks.outbound.endpoints import create_endpoint, secret_box

    account = await create_account(session, name="Acme")
    acct = account.id
    user = await create_user(
        session, email="ops@acme.test", password="long enough pass", role="manager", account_id=acct
    )
    key = await create_api_key(session, account_id=acct)
    customer = await create_customer(session, account_id=acct, livemode=False, email="c@x.test")
    verified = PaymentMethodResult("mock", "tok_1", MethodDetails(type="card", last4="4242"))
    method = await create_payment_method(
        session, account_id=acct, livemode=False, verified=verified, customer_id=customer.id
    )
    endpoint = await create_endpoint(
        session,
        account_id=acct,
        livemode=False,
        url="http://127.0.0.1:9/hook",
        enabled_events=["*"],
        description=None,
        config=OutboundConfig(allow_private=True),
        box=secret_box(b"k" * 32),
    )
    return {
        "account": (acct, acct),
        "user": (user.id, acct),
        "api_key": (key.api_key.id, acct),
        "customer": (customer.id, acct),
        "payment_method": (method.id, acct),
        "webhook_endpoint": (endpoint.endpoint.id, acct),
    }


async def test_every_created_row_has_one_create_entry_naming_it(db: Backend) -> None:
    async with transaction(db.sessions) as session:
        created = await _create_one_of_each(session)
    async with db.sessions() as session:
        entries = (await session.scalars(select(AuditEntry))).all()
    found = {e.object_type: (e.action, e.object_id, e.account_id) for e in entries}
    assert len(entries) == len(found) == len(created)
    assert found == {
        kind: (f"{kind}.create", row_id, account_id)
        for kind, (row_id, account_id) in created.items()
    }


async def test_a_rolled_back_creation_leaves_neither_rows_nor_entries(db: Backend) -> None:
    from kassa.accounts.models import ApiKey, User
    from kassa.payins.models import Customer, PaymentMethod
    from kassa.webhooks.outbound.models import WebhookEndpoint

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with transaction(db.sessions) as session:
            await _create_one_of_each(session)
            await session.flush()  # the rows reached the database inside the transaction
            raise Boom
    async with db.sessions() as session:
        for model in (Account, User, ApiKey, Customer, PaymentMethod, WebhookEndpoint, AuditEntry):
            count = await session.scalar(select(func.count()).select_from(model))
            assert count == 0, model.__name__
