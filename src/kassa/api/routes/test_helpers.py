"""Test helpers: /v1/test_helpers/... play the parts kassa does not (the customer), in test
mode only, like Stripe's test helpers."""

from __future__ import annotations

from fastapi import Request

from kassa.api.deps import Session, WriteAccess, app_state
from kassa.api.idempotency import v1_router
from kassa.api.routes._payins_common import providers
from kassa.payins import simulate
from kassa.payins.schemas import PaymentOut

router = v1_router(tags=["test_helpers"])


@router.post(
    "/test_helpers/payments/{payment_id}/complete_action",
    response_model=PaymentOut,
    summary="Test mode: the customer completes the payment's action at the mock provider",
)
async def complete_payment_action(
    payment_id: str, principal: WriteAccess, session: Session, request: Request
) -> PaymentOut:
    """The customer passes (``pm_card_threeDSecure``) or fails (``pm_card_threeDSecureFail``)
    the 3-D Secure challenge of a payment in requires_action. kassa learns of it when the
    payment is confirmed (``POST /v1/payments/{id}/confirm``, or reconciliation): the payment
    is answered as kassa knows it, still requires_action. Test keys only (403
    ``test_helpers_test_mode_only``)."""
    account_id = principal.require_account()
    if session.in_transaction():
        await session.commit()  # the helper reads on its own (SQLite has one writer)
    view = await simulate.complete_action(
        app_state(request).sessions,
        providers(request),
        account_id=account_id,
        livemode=principal.livemode,
        payment_id=payment_id,
    )
    return PaymentOut.model_validate(view)
