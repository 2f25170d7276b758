"""Payments and refunds: /v1/payments, /v1/refunds.

Create, capture, cancel and refund call providers, so these routes run their own
transactions (intent, provider call, result) instead of the request's single unit of work.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field, StrictBool, model_validator
from sqlalchemy import select

from kassa.api.deps import ReadAccess, RefundAccess, Session, WriteAccess, app_state
from kassa.api.errors import PARAMETER_CONFLICT
from kassa.api.idempotency import ClaimedKey, claimed_key, v1_router
from kassa.api.openapi import problems
from kassa.api.pagination import ListResponse, Page, fetch_page
from kassa.api.routes._payins_common import AmountIn, Guarded, WithMetadata, providers
from kassa.api.times import TIME_FILTER, UtcTime
from kassa.core.changes import RowUpdate
from kassa.core.errors import InvalidRequest
from kassa.payins import cancel, capture, confirm, refund
from kassa.payins.create_payment import NewPayment, create_and_confirm
from kassa.payins.models import Payment, PaymentAttempt, Refund
from kassa.payins.repository import attempts_for, get_owned
from kassa.payins.return_urls import check_return_url
from kassa.payins.schemas import PaymentOut, RefundOut
from kassa.payins.state import PROCESSING, STATES

router = v1_router(tags=["payments"])


class PaymentCreate(WithMetadata):
    amount: AmountIn
    payment_method_id: str | None = Field(None, max_length=40, description="A saved pm_ id.")
    payment_method: str | None = Field(
        None, max_length=200, description="A provider token, e.g. pm_card_visa in test mode."
    )
    customer_id: str | None = Field(None, max_length=40)
    description: str | None = Field(None, max_length=1000)
    capture: StrictBool = Field(True, description="false: authorize now, capture later.")
    provider: str | None = Field(None, max_length=40, description="Default: PAYMENT_PROVIDER.")
    return_url: str | None = Field(
        None,
        max_length=2048,
        description="Where the provider sends the customer back after a redirect action "
        "(3-D Secure, PayPal approval): https (http only to localhost in development).",
    )
    confirmation_method: Literal["automatic"] | None = None
    idempotency_key: str | None = Field(
        None,
        max_length=255,
        description="Same as the Idempotency-Key header (which is preferred); must match it.",
    )

    @model_validator(mode="after")
    def _one_payment_method(self) -> PaymentCreate:
        # Both given would make kassa pick one silently; a body model refusal also leaves
        # nothing written and the Idempotency-Key free.
        if self.payment_method is not None and self.payment_method_id is not None:
            message = "Give payment_method or payment_method_id, not both."
            raise PARAMETER_CONFLICT(
                message,
                param="payment_method",
                details={
                    "errors": [
                        {"param": "payment_method", "message": message},
                        {"param": "payment_method_id", "message": message},
                    ]
                },
            )
        return self


class CaptureIn(Guarded):
    amount_to_capture: AmountIn | None = Field(None, description="Default: all of it.")


class RefundIn(WithMetadata):
    amount: AmountIn | None = Field(None, description="Default: all that is left.")
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None


async def _own_transactions_from_here(session: Session) -> None:
    """Before a route runs transactions of its own and calls a provider."""
    # The request's session authenticated the caller; end its transaction before ours
    # (SQLite allows one writer, and we hold no locks across provider calls).
    if session.in_transaction():
        await session.commit()


def _created(view: dict[str, object]) -> JSONResponse:
    # ``view`` is PaymentOut's JSON value (``views.payment_json``): the bytes are the model's,
    # rendered once, here, and stored for replays as they are.
    return JSONResponse(view, status_code=202 if view["status"] == PROCESSING else 201)


class _StoredWithResult:
    """Stores the response under the request's Idempotency-Key with the payment's result (it
    rides along with the result's change set, see ``create_payment.settle``), and answers
    with exactly those bytes."""

    def __init__(self, claimed: ClaimedKey) -> None:
        self.claimed = claimed
        self.response: JSONResponse | None = None
        self.done = False

    def change_for(self, view: dict[str, object]) -> RowUpdate:
        self.response = _created(view)
        return self.claimed.change_for(self.response)

    def stored(self) -> None:
        self.claimed.stored()
        self.done = True

    def intent_committed(self) -> None:
        self.claimed.committed()  # from here on the request is remembered however it ends


@router.post(
    "/payments",
    status_code=201,
    response_model=PaymentOut,
    responses={
        202: {
            "model": PaymentOut,
            "description": "The provider has not answered yet: the payment is processing and "
            "reconciliation settles it (a payment.* event tells how).",
        },
        **problems(402, 404),
    },
    summary="Create and confirm a payment",
)
async def create_payment(
    body: PaymentCreate, principal: WriteAccess, session: Session, request: Request
) -> JSONResponse:
    account_id = principal.require_account()
    amount = body.amount.money()
    return_url = None
    if body.return_url is not None:
        development = app_state(request).settings.env == "development"
        return_url = check_return_url(
            body.return_url, livemode=principal.livemode, development=development
        )
    await _own_transactions_from_here(session)
    claimed = claimed_key()
    store = _StoredWithResult(claimed) if claimed else None
    view = await create_and_confirm(
        app_state(request).sessions,
        providers(request),
        NewPayment(
            account_id=account_id,
            livemode=principal.livemode,
            amount=amount,
            payment_method_id=body.payment_method_id,
            payment_method=body.payment_method,
            customer_id=body.customer_id,
            description=body.description,
            metadata=body.metadata or {},
            capture=body.capture,
            provider=body.provider,
            return_url=return_url,
            request_key=claimed.key if claimed else None,
            resumes_since=claimed.resumes_since if claimed else None,
        ),
        response_store=store,
    )
    if store is not None and store.done and store.response is not None:
        return store.response  # the very bytes stored for replays
    return _created(view)


@router.get("/payments/{payment_id}", response_model=PaymentOut, summary="Retrieve a payment")
async def retrieve_payment(payment_id: str, principal: ReadAccess, session: Session) -> PaymentOut:
    payment = await get_owned(
        session,
        Payment,
        payment_id,
        account_id=principal.require_account(),
        livemode=principal.livemode,
    )
    # The merchant's own key: next_action shows its client secret (events leave it out).
    return PaymentOut.of(payment, await attempts_for(session, payment.id), client_secret=True)


@router.get(
    "/payments", response_model=ListResponse[PaymentOut], summary="List payments, newest first"
)
async def list_payments(
    principal: ReadAccess,
    session: Session,
    page: Page,
    status: str | None = None,
    customer_id: str | None = None,
    created_gte: Annotated[UtcTime | None, Query(description=TIME_FILTER + " Inclusive.")] = None,
    created_lte: Annotated[UtcTime | None, Query(description=TIME_FILTER + " Inclusive.")] = None,
) -> ListResponse[PaymentOut]:
    query = select(Payment).where(
        Payment.account_id == principal.require_account(),
        Payment.livemode == principal.livemode,
    )
    if status:
        if status not in STATES:
            raise InvalidRequest(f"status is one of {', '.join(STATES)}.", param="status")
        query = query.where(Payment.status == status)
    if customer_id:
        query = query.where(Payment.customer_id == customer_id)
    if created_gte:
        query = query.where(Payment.created_at >= created_gte)
    if created_lte:
        query = query.where(Payment.created_at <= created_lte)
    rows, has_more = await fetch_page(session, query, Payment.id, page)
    attempts: dict[str, list[PaymentAttempt]] = {}
    if rows:
        found = await session.scalars(
            select(PaymentAttempt)
            .where(PaymentAttempt.payment_id.in_([p.id for p in rows]))
            .order_by(PaymentAttempt.id)
        )
        for attempt in found:
            attempts.setdefault(attempt.payment_id, []).append(attempt)
    data = [PaymentOut.of(p, attempts.get(p.id, []), client_secret=True) for p in rows]
    return ListResponse(data=data, has_more=has_more)


@router.post(
    "/payments/{payment_id}/confirm",
    response_model=PaymentOut,
    responses={
        202: {
            "model": PaymentOut,
            "description": "A confirmation is in flight (another request's, or this one's "
            "answer was lost): the payment is processing; a payment.* event tells how it ends.",
        },
        **problems(402),
    },
    summary="Confirm a payment the customer acted on",
)
async def confirm_payment(
    payment_id: str, principal: WriteAccess, session: Session, request: Request
) -> Any:
    """After the customer's action (3-D Secure, PayPal approval): ask the provider and settle.
    A payment that does not wait for the customer (any more) is answered as it is."""
    account_id = principal.require_account()
    await _own_transactions_from_here(session)
    claimed = claimed_key()
    view = await confirm.confirm_payment(
        app_state(request).sessions,
        providers(request),
        account_id=account_id,
        livemode=principal.livemode,
        payment_id=payment_id,
        on_intent_committed=claimed.committed if claimed else None,
    )
    return JSONResponse(view, status_code=202 if view["status"] == PROCESSING else 200)


@router.post(
    "/payments/{payment_id}/capture",
    response_model=PaymentOut,
    responses=problems(402),
    summary="Capture an authorized payment",
)
async def capture_payment(
    payment_id: str,
    principal: WriteAccess,
    session: Session,
    request: Request,
    body: CaptureIn | None = None,
) -> Any:
    account_id = principal.require_account()
    amount = (
        body.amount_to_capture.money("amount_to_capture")
        if body and body.amount_to_capture
        else None
    )
    await _own_transactions_from_here(session)
    claimed = claimed_key()
    return await capture.capture_payment(
        app_state(request).sessions,
        providers(request),
        account_id=account_id,
        livemode=principal.livemode,
        payment_id=payment_id,
        amount=amount,
        on_intent_committed=claimed.committed if claimed else None,
    )


@router.post(
    "/payments/{payment_id}/cancel",
    response_model=PaymentOut,
    responses=problems(402),  # the provider refused to release the authorization
    summary="Cancel a payment that was not captured",
)
async def cancel_payment(
    payment_id: str, principal: WriteAccess, session: Session, request: Request
) -> Any:
    account_id = principal.require_account()
    await _own_transactions_from_here(session)
    claimed = claimed_key()
    return await cancel.cancel_payment(
        app_state(request).sessions,
        providers(request),
        account_id=account_id,
        livemode=principal.livemode,
        payment_id=payment_id,
        on_provider_call=claimed.committed if claimed else None,
    )


@router.post(
    "/payments/{payment_id}/refund",
    status_code=201,
    response_model=RefundOut,
    summary="Refund all or part of a payment",
)
async def refund_payment(
    payment_id: str,
    principal: RefundAccess,
    session: Session,
    request: Request,
    body: RefundIn | None = None,
) -> Any:
    account_id = principal.require_account()
    amount = body.amount.money() if body and body.amount else None
    await _own_transactions_from_here(session)
    claimed = claimed_key()
    return await refund.refund_payment(
        app_state(request).sessions,
        providers(request),
        account_id=account_id,
        livemode=principal.livemode,
        payment_id=payment_id,
        amount=amount,
        reason=body.reason if body else None,
        metadata=(body.metadata if body else None) or {},
        request_key=claimed.key if claimed else None,
        resumes_since=claimed.resumes_since if claimed else None,
        on_intent_committed=claimed.committed if claimed else None,
    )


@router.get("/refunds/{refund_id}", response_model=RefundOut, summary="Retrieve a refund")
async def retrieve_refund(refund_id: str, principal: ReadAccess, session: Session) -> RefundOut:
    row = await get_owned(
        session,
        Refund,
        refund_id,
        account_id=principal.require_account(),
        livemode=principal.livemode,
    )
    return RefundOut.of(row)


@router.get(
    "/refunds", response_model=ListResponse[RefundOut], summary="List refunds, newest first"
)
async def list_refunds(
    principal: ReadAccess,
    session: Session,
    page: Page,
    payment_id: str | None = None,
) -> ListResponse[RefundOut]:
    query = select(Refund).where(
        Refund.account_id == principal.require_account(), Refund.livemode == principal.livemode
    )
    if payment_id:
        query = query.where(Refund.payment_id == payment_id)
    rows, has_more = await fetch_page(session, query, Refund.id, page)
    return ListResponse(data=[RefundOut.of(r) for r in rows], has_more=has_more)
