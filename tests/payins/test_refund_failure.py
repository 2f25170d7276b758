"""A refund the provider cannot take fails cleanly: refund.failed, nothing reserved."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from kassa.core import clock
from kassa.core.money import Money
from kassa.jobs.models import Event
from kassa.payins import refund
from kassa.payins.create_payment import NewPayment, create_and_confirm
from kassa.payins.models import Payment
from kassa.providers.registry import build_registry
from tests.conftest import Backend
from tests.factories import merchant


async def test_refund_fails_when_the_provider_is_unavailable(db: Backend, tmp_path: Path) -> None:
    registry = build_registry(db.settings(tmp_path))
    m = await merchant(db.sessions)
    common = {"account_id": m.account_id, "livemode": False}
    paid = await create_and_confirm(
        db.sessions,
        registry,
        NewPayment(**common, amount=Money(2000, "USD"), payment_method="pm_card_visa"),
    )
    registry.guard("mock").breaker.opened_at = clock.now().timestamp()  # the circuit is open
    result = await refund.refund_payment(
        db.sessions, registry, **common, payment_id=str(paid["id"]), amount=Money(500, "USD")
    )
    assert result["status"] == "failed" and result["failure_code"] == "circuit_open"
    async with db.sessions() as s:
        payment = await s.get(Payment, paid["id"])
        assert payment is not None
        assert (payment.status, payment.amount_refunded, payment.amount_refund_pending) == (
            "succeeded",
            0,
            0,
        )
        types = (await s.scalars(select(Event.type).where(Event.type.like("refund.%")))).all()
    assert sorted(types) == ["refund.created", "refund.failed"]

    registry.guard("mock").breaker.on_success()  # the provider is back: the full amount is left
    again = await refund.refund_payment(
        db.sessions, registry, **common, payment_id=str(paid["id"]), amount=None
    )
    assert again["status"] == "succeeded" and again["amount"]["value"] == "20.00"
