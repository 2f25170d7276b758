"""A refund the provider cannot take now changes nothing: refused before it is written while
the circuit of the payment's account is open, nothing reserved, no event, then it goes through."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from kassa.core import clock
from kassa.core.money import Money
from kassa.jobs.models import Event
from kassa.payins import refund
from kassa.payins.create_payment import NewPayment, create_and_confirm
from kassa.payins.errors import ProviderUnavailable
from kassa.payins.models import Payment, Refund
from kassa.providers.breakers import CallScope
from kassa.providers.registry import build_registry
from tests.conftest import Backend
from tests.factories import merchant


async def test_refund_is_refused_unwritten_while_the_circuit_is_open(
    db: Backend, tmp_path: Path
) -> None:
    registry = build_registry(db.settings(tmp_path))
    m = await merchant(db.sessions)
    common = {"account_id": m.account_id, "livemode": False}
    paid = await create_and_confirm(
        db.sessions,
        registry,
        NewPayment(**common, amount=Money(2000, "USD"), payment_method="pm_card_visa"),
    )
    breaker = registry.breaker("mock", CallScope(m.account_id, livemode=False))
    breaker.opened_at = clock.now().timestamp()  # the circuit of this account is open
    with pytest.raises(ProviderUnavailable) as refused:
        await refund.refund_payment(
            db.sessions, registry, **common, payment_id=str(paid["id"]), amount=Money(500, "USD")
        )
    assert refused.value.retry_after == 30 and refused.value.details["reason"] == "circuit_open"
    async with db.sessions() as s:
        payment = await s.get(Payment, paid["id"])
        assert payment is not None
        assert (payment.status, payment.amount_refunded, payment.amount_refund_pending) == (
            "succeeded",
            0,
            0,
        )
        assert await s.scalar(select(func.count()).select_from(Refund)) == 0
        types = (await s.scalars(select(Event.type).where(Event.type.like("refund.%")))).all()
    assert types == []

    breaker.on_success()  # the provider is back: the full amount is left
    again = await refund.refund_payment(
        db.sessions, registry, **common, payment_id=str(paid["id"]), amount=None
    )
    assert again["status"] == "succeeded" and again["amount"]["value"] == "20.00"
