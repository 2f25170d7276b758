"""Payment methods: /v1/payment_methods (provider tokens and display data, never numbers)."""

from __future__ import annotations

from fastapi import Request
from pydantic import Field

from kassa.api.deps import ReadAccess, Session, WriteAccess
from kassa.api.idempotency import v1_router
from kassa.api.openapi import problems
from kassa.api.pagination import ListResponse, Page, fetch_page
from kassa.api.routes._payins_common import WithMetadata, providers
from kassa.core.errors import InvalidRequest
from kassa.core.ids import new_id
from kassa.payins import payment_methods as methods
from kassa.payins.models import PaymentMethod
from kassa.payins.schemas import DeletedPaymentMethodOut, PaymentMethodOut
from kassa.providers.breakers import CallScope

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


@router.post(
    "/payment_methods",
    status_code=201,
    response_model=PaymentMethodOut,
    responses=problems(404),
    summary="Save a payment method from a token",
)
async def create_payment_method(
    body: PaymentMethodCreate, principal: WriteAccess, session: Session, request: Request
) -> PaymentMethodOut:
    account_id = principal.require_account()
    method_id = new_id("pm")
    verified = await methods.verify_token(
        providers(request),
        provider=body.provider,
        token=body.token,
        key=method_id,
        scope=CallScope(account_id, principal.livemode),
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
    return PaymentMethodOut.of(method)


@router.get(
    "/payment_methods/{method_id}",
    response_model=PaymentMethodOut,
    summary="Retrieve a payment method",
)
async def retrieve_payment_method(
    method_id: str, principal: ReadAccess, session: Session
) -> PaymentMethodOut:
    method = await methods.get_payment_method(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        method_id=method_id,
    )
    return PaymentMethodOut.of(method)


@router.post(
    "/payment_methods/{method_id}",
    response_model=PaymentMethodOut,
    summary="Update a payment method's metadata",
    operation_id="update_payment_method",
)
@router.put(  # an alias (seed 004 names PUT); POST is the verb, as at Stripe
    "/payment_methods/{method_id}",
    response_model=PaymentMethodOut,
    summary="Update a payment method's metadata (PUT: an alias of POST)",
    operation_id="update_payment_method_put",
    deprecated=True,
)
async def update_payment_method(
    method_id: str, body: PaymentMethodUpdate, principal: WriteAccess, session: Session
) -> PaymentMethodOut:
    method = await methods.update_payment_method(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        method_id=method_id,
        metadata=body.metadata,
    )
    return PaymentMethodOut.of(method)


@router.delete(
    "/payment_methods/{method_id}",
    response_model=DeletedPaymentMethodOut,
    summary="Delete (detach) a payment method",
)
async def delete_payment_method(
    method_id: str, principal: WriteAccess, session: Session
) -> DeletedPaymentMethodOut:
    method = await methods.detach_payment_method(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        method_id=method_id,
    )
    return DeletedPaymentMethodOut.of(method)


@router.get(
    "/payment_methods",
    response_model=ListResponse[PaymentMethodOut],
    summary="List payment methods (per customer)",
)
async def list_payment_methods(
    principal: ReadAccess,
    session: Session,
    page: Page,
    customer_id: str | None = None,
) -> ListResponse[PaymentMethodOut]:
    query = methods.list_query(
        account_id=principal.require_account(),
        livemode=principal.livemode,
        customer_id=customer_id,
    )
    rows, has_more = await fetch_page(session, query, PaymentMethod.id, page)
    return ListResponse(data=[PaymentMethodOut.of(m) for m in rows], has_more=has_more)
