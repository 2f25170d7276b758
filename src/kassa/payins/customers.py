"""Customers: who pays; payment methods attach to them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import audit, clock
from kassa.core.ids import new_id
from kassa.payins.models import Customer
from kassa.payins.repository import get_owned

_UNSET: Any = object()


async def create_customer(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    email: str | None = None,
    name: str | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Customer:
    now = clock.now()
    customer = Customer(
        id=new_id("cus"),
        account_id=account_id,
        livemode=livemode,
        email=email,
        name=name,
        description=description,
        metadata_=dict(metadata or {}),
        created_at=now,
        updated_at=now,
    )
    after = {"email": email, "name": name}
    return audit.add_created(session, customer, "customer", account_id=account_id, after=after)


async def update_customer(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    customer_id: str,
    changes: dict[str, Any],
) -> Customer:
    """Apply ``changes`` (email, name, description, metadata); metadata merges like Stripe's:
    a key set to an empty string is removed."""
    customer = await get_owned(
        session, Customer, customer_id, account_id=account_id, livemode=livemode, for_update=True
    )
    before = {"email": customer.email, "name": customer.name, "description": customer.description}
    for field in ("email", "name", "description"):
        if field in changes:
            setattr(customer, field, changes[field])
    if "metadata" in changes:
        customer.metadata_ = merge_metadata(customer.metadata_, changes["metadata"])
    customer.updated_at = clock.now()
    audit.record(
        session,
        action="customer.update",
        object_type="customer",
        object_id=customer.id,
        account_id=account_id,
        before=before,
        after={"email": customer.email, "name": customer.name, "description": customer.description},
    )
    return customer


def merge_metadata(current: dict[str, Any], changes: dict[str, str] | None) -> dict[str, Any]:
    if changes is None:
        return {}
    merged = dict(current)
    for key, value in changes.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def list_query(*, account_id: str, livemode: bool, email: str | None = None) -> Any:
    query = select(Customer).where(Customer.account_id == account_id, Customer.livemode == livemode)
    if email:
        query = query.where(Customer.email == email)
    return query


async def all_customers(session: AsyncSession, *, account_id: str) -> Sequence[Customer]:
    return (await session.scalars(select(Customer).where(Customer.account_id == account_id))).all()
