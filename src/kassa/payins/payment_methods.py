"""Payment methods: provider tokens plus display data (brand, last4, expiry). Never numbers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.core import audit, clock
from kassa.core.ids import new_id
from kassa.payins.customers import merge_metadata
from kassa.payins.errors import PAYMENT_METHOD_DETACHED, ProviderUnavailable, refused_by_provider
from kassa.payins.gateway import call_one
from kassa.payins.models import Customer, PaymentMethod
from kassa.payins.repository import get_owned
from kassa.providers.base import PaymentMethodRequest, PaymentMethodResult, TransientProviderError
from kassa.providers.breakers import CallScope
from kassa.providers.registry import ProviderRegistry


async def verify_token(
    registry: ProviderRegistry,
    *,
    provider: str | None,
    token: str,
    key: str,
    scope: CallScope,
) -> PaymentMethodResult:
    """Ask the provider about ``token`` (outside any transaction), for ``scope``'s account."""
    name = provider or registry.default
    request = PaymentMethodRequest(idempotency_key=key, token=token)
    outcome = await call_one(
        registry, name, lambda adapter: adapter.create_payment_method(request), scope=scope
    )
    if outcome.result is not None:
        return outcome.result
    error = outcome.error
    assert error is not None
    if isinstance(error, TransientProviderError):
        raise ProviderUnavailable(error.message)
    raise refused_by_provider(error.code)(error.message, param="token")


async def create_payment_method(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    verified: PaymentMethodResult,
    customer_id: str | None = None,
    metadata: dict[str, str] | None = None,
    method_id: str | None = None,
) -> PaymentMethod:
    if customer_id:
        await get_owned(
            session,
            Customer,
            customer_id,
            account_id=account_id,
            livemode=livemode,
            param="customer_id",
        )
    now = clock.now()
    method = PaymentMethod(
        id=method_id or new_id("pm"),
        account_id=account_id,
        livemode=livemode,
        customer_id=customer_id,
        type=verified.details.type,
        provider=verified.provider,
        provider_token=verified.token,
        details=verified.details.to_json(),
        metadata_=dict(metadata or {}),
        detached_at=None,
        created_at=now,
        updated_at=now,
    )
    after = {"type": method.type, "customer_id": customer_id, "provider": method.provider}
    return audit.add_created(session, method, "payment_method", account_id=account_id, after=after)


async def get_payment_method(
    session: AsyncSession, *, account_id: str, livemode: bool, method_id: str
) -> PaymentMethod:
    method = await get_owned(
        session, PaymentMethod, method_id, account_id=account_id, livemode=livemode
    )
    return method


async def update_payment_method(
    session: AsyncSession,
    *,
    account_id: str,
    livemode: bool,
    method_id: str,
    metadata: dict[str, str] | None,
) -> PaymentMethod:
    method = await get_owned(
        session, PaymentMethod, method_id, account_id=account_id, livemode=livemode, for_update=True
    )
    if method.detached_at is not None:
        raise PAYMENT_METHOD_DETACHED(
            "This payment method was deleted (detached); it can no longer be changed.",
            details={"detached_at": method.detached_at.isoformat().replace("+00:00", "Z")},
        )
    before = dict(method.metadata_)
    method.metadata_ = merge_metadata(method.metadata_, metadata)
    method.updated_at = clock.now()
    audit.record(
        session,
        action="payment_method.update",
        object_type="payment_method",
        object_id=method.id,
        account_id=account_id,
        before={"metadata": before},
        after={"metadata": method.metadata_},
    )
    return method


async def detach_payment_method(
    session: AsyncSession, *, account_id: str, livemode: bool, method_id: str
) -> PaymentMethod:
    """Delete (detach): the method can no longer be used nor changed, and belongs to no
    customer any more (as at Stripe; the audit entry keeps which); payments keep their copy."""
    method = await get_owned(
        session, PaymentMethod, method_id, account_id=account_id, livemode=livemode, for_update=True
    )
    if method.detached_at is None:
        before = {"customer_id": method.customer_id}
        method.detached_at = clock.now()
        method.updated_at = method.detached_at
        method.customer_id = None
        audit.record(
            session,
            action="payment_method.delete",
            object_type="payment_method",
            object_id=method.id,
            account_id=account_id,
            before=before,
            after={"detached": True, "customer_id": None},
        )
    return method


def list_query(*, account_id: str, livemode: bool, customer_id: str | None) -> Any:
    query = select(PaymentMethod).where(
        PaymentMethod.account_id == account_id,
        PaymentMethod.livemode == livemode,
        PaymentMethod.detached_at.is_(None),
    )
    if customer_id:
        query = query.where(PaymentMethod.customer_id == customer_id)
    return query
