"""Payment methods: /v1/payment_methods (provider tokens and display data, never numbers)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import Field

from kassa.api.deps import ReadAccess, Session, WriteAccess
from kassa.api.idempotency import v1_router
from kassa.api.pagination import Limit, StartingAfter, fetch_page
from kassa.api.routes._payins_common import WithMetadata, providers
from kassa.core.errors import InvalidRequest
from kassa.core.ids import new_id
from kassa.payins import payment_methods as methods
from kassa.payins.models import PaymentMethod
from kassa.payins.views import payment_method_json

router = v1_router(tags=["payment methods"])


class PaymentMethodCreate(WithMetadata):
    token: str = Field(
        min_length=3,
        max_length=200,
        description="A token from your provider's client SDK (test mode: pm_card_visa, ...).",
    )
    type: str | None = Field(None, description="card, bank_account or wallet (checked).")
    customer_id: str | None = Field(None, max_length=40)
    provider: str | None = Field(None, max_length=40, description="Default: PAYMENT_PROVIDER.")


class PaymentMethodUpdate(WithMetadata):
    pass


@router.post("/payment_methods", status_code=201, summary="Save a payment method from a token")
async def create_method(
    body: PaymentMethodCreate, principal: WriteAccess, session: Session, request: Request
) -> Any:
    account_id = principal.require_account()
    method_id = new_id("pm")
    verified = await methods.verify_token(
        providers(request), provider=body.provider, token=body.token, key=method_id
    )
    if body.type is not None and body.type != verified.details.type:
        raise InvalidRequest(
            f"The token is a {verified.details.type}, not a {body.type}.", param="type"
        )
    method = await methods.create_payment_method(
        session,
        account_id=account_id,
        livemode=principal.livemode,
        verified=verified,
        customer_id=body.customer_id,
        metadata=body.metadata,
        method_id=method_id,
    )
    return payment_method_json(method)


@router.get("/payment_methods/{method_id}", summary="Retrieve a payment method")
async def retrieve_method(method_id: str, principal: ReadAccess, session: Session) -> Any:
    method = await methods.get_payment_method(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        method_id=method_id,
    )
    return payment_method_json(method)


@router.post(
    "/payment_methods/{method_id}",
    summary="Update a payment method's metadata",
    operation_id="update_payment_method",
)
@router.put(
    "/payment_methods/{method_id}",
    summary="Update a payment method's metadata (PUT, as in seed 004)",
    operation_id="put_payment_method",
)
async def update_method(
    method_id: str, body: PaymentMethodUpdate, principal: WriteAccess, session: Session
) -> Any:
    method = await methods.update_payment_method(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        method_id=method_id,
        metadata=body.metadata,
    )
    return payment_method_json(method)


@router.delete("/payment_methods/{method_id}", summary="Delete (detach) a payment method")
async def delete_method(method_id: str, principal: WriteAccess, session: Session) -> Any:
    method = await methods.detach_payment_method(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        method_id=method_id,
    )
    return {**payment_method_json(method), "deleted": True}


@router.get("/payment_methods", summary="List payment methods (per customer)")
async def list_methods(
    principal: ReadAccess,
    session: Session,
    customer_id: str | None = None,
    limit: Limit = 20,
    starting_after: StartingAfter = None,
) -> Any:
    query = methods.list_query(
        account_id=principal.require_account(),
        livemode=principal.livemode,
        customer_id=customer_id,
    )
    rows, has_more = await fetch_page(
        session, query, PaymentMethod.id, limit=limit, starting_after=starting_after
    )
    return {"object": "list", "data": [payment_method_json(m) for m in rows], "has_more": has_more}
