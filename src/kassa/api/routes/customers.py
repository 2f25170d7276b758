"""Customers: /v1/customers."""

from __future__ import annotations

from pydantic import Field

from kassa.api.deps import ReadAccess, Session, WriteAccess
from kassa.api.idempotency import v1_router
from kassa.api.pagination import ListResponse, Page, fetch_page
from kassa.api.routes._payins_common import WithMetadata
from kassa.payins import customers
from kassa.payins.models import Customer
from kassa.payins.repository import get_owned
from kassa.payins.schemas import CustomerOut

router = v1_router(tags=["customers"])


class CustomerIn(WithMetadata):
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=1000)


@router.post("/customers", status_code=201, response_model=CustomerOut, summary="Create a customer")
async def create_customer(
    body: CustomerIn, principal: WriteAccess, session: Session
) -> CustomerOut:
    customer = await customers.create_customer(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        email=body.email,
        name=body.name,
        description=body.description,
        metadata=body.metadata,
    )
    return CustomerOut.of(customer)


@router.get("/customers/{customer_id}", response_model=CustomerOut, summary="Retrieve a customer")
async def retrieve_customer(
    customer_id: str, principal: ReadAccess, session: Session
) -> CustomerOut:
    customer = await get_owned(
        session,
        Customer,
        customer_id,
        account_id=principal.require_account(),
        livemode=principal.livemode,
    )
    return CustomerOut.of(customer)


@router.post(
    "/customers/{customer_id}",
    response_model=CustomerOut,
    summary="Update a customer",
    operation_id="update_customer",
)
@router.patch(  # an alias for REST clients; POST is the verb, as at Stripe
    "/customers/{customer_id}",
    response_model=CustomerOut,
    summary="Update a customer (PATCH: an alias of POST)",
    operation_id="update_customer_patch",
    deprecated=True,
)
async def update_customer(
    customer_id: str, body: CustomerIn, principal: WriteAccess, session: Session
) -> CustomerOut:
    customer = await customers.update_customer(
        session,
        account_id=principal.require_account(),
        livemode=principal.livemode,
        customer_id=customer_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return CustomerOut.of(customer)


@router.get(
    "/customers", response_model=ListResponse[CustomerOut], summary="List customers, newest first"
)
async def list_customers(
    principal: ReadAccess,
    session: Session,
    page: Page,
    email: str | None = None,
) -> ListResponse[CustomerOut]:
    query = customers.list_query(
        account_id=principal.require_account(), livemode=principal.livemode, email=email
    )
    rows, has_more = await fetch_page(session, query, Customer.id, page)
    return ListResponse(data=[CustomerOut.of(c) for c in rows], has_more=has_more)
