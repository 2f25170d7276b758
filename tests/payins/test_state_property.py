"""Property: any sequence of merchant operations keeps a payment's books consistent.

Operations are the real use cases against the database; refused ones change nothing.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kassa.core.audit import AuditEntry
from kassa.core.errors import KassaError
from kassa.core.money import Money
from kassa.jobs.models import Event
from kassa.payins import cancel, capture, refund
from kassa.payins.create_payment import NewPayment, create_and_confirm
from kassa.payins.models import Payment, Refund
from kassa.payins.state import STATES
from kassa.providers.registry import build_registry
from tests.conftest import Backend
from tests.factories import merchant

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("capture"), st.integers(min_value=-1, max_value=1200)),
        st.tuples(st.just("cancel"), st.just(0)),
        st.tuples(st.just("refund"), st.integers(min_value=-1, max_value=1200)),
    ),
    max_size=6,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(capture_now=st.booleans(), ops=OPS)
async def test_operations_keep_the_books_consistent(
    db: Backend, tmp_path: Any, capture_now: bool, ops: list[tuple[str, int]]
) -> None:
    registry = build_registry(db.settings(tmp_path))
    m = await merchant(db.sessions)
    common = {"account_id": m.account_id, "livemode": False}
    view = await create_and_confirm(
        db.sessions,
        registry,
        NewPayment(
            **common, amount=Money(1000, "USD"), payment_method="pm_card_visa", capture=capture_now
        ),
    )
    pid = str(view["id"])
    for op, cents in ops:
        amount = None if cents < 0 else Money(cents, "USD")
        before = await _snapshot(db, pid)
        try:
            if op == "capture":
                await capture.capture_payment(
                    db.sessions, registry, **common, payment_id=pid, amount=amount
                )
            elif op == "cancel":
                await cancel.cancel_payment(db.sessions, registry, **common, payment_id=pid)
            else:
                await refund.refund_payment(
                    db.sessions, registry, **common, payment_id=pid, amount=amount
                )
        except KassaError:
            assert await _snapshot(db, pid) == before  # refused: nothing changed
        await _check(db, pid)


async def _snapshot(db: Backend, pid: str) -> tuple[Any, ...]:
    async with db.sessions() as s:
        p = await s.get(Payment, pid)
        assert p is not None
        events = await s.scalar(select(func.count()).select_from(Event))
        return (p.status, p.amount_captured, p.amount_refunded, events)


async def _check(db: Backend, pid: str) -> None:
    async with db.sessions() as s:
        p = await s.get(Payment, pid)
        assert p is not None
        assert p.status in STATES
        assert 0 <= p.amount_captured <= p.amount
        assert 0 <= p.amount_refunded <= p.amount_captured
        assert p.amount_refund_pending == 0
        refunded = await s.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(
                Refund.payment_id == pid, Refund.status == "succeeded"
            )
        )
        assert refunded == p.amount_refunded
        if p.status == "refunded":
            assert p.amount_refunded == p.amount_captured > 0
        if p.status == "partially_refunded":
            assert 0 < p.amount_refunded < p.amount_captured
        if p.status == "canceled":
            assert p.amount_captured == 0
        payment_events = (
            await s.scalars(select(Event.data).where(Event.type.like("payment.%")))
        ).all()
        audits = await s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.object_id == pid)
        )
        mine = [d for d in payment_events if d.get("id") == pid]
        assert len(mine) == audits  # one audit entry per event, written together
