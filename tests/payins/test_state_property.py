"""Property: any sequence of merchant operations keeps a payment's books consistent.

Operations are the real use cases against the database; refused ones change nothing.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kassa.core.audit import AuditEntry
from kassa.core.errors import KassaError
from kassa.core.money import Money
from kassa.jobs.models import Event
from kassa.payins import cancel, capture, confirm, refund, simulate
from kassa.payins.create_payment import NewPayment, create_and_confirm
from kassa.payins.errors import PaymentDeclined
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
        st.tuples(st.just("act"), st.just(0)),  # the customer passes (or fails) 3-D Secure
        st.tuples(st.just("confirm"), st.just(0)),
    ),
    max_size=6,
)
TOKENS = st.sampled_from(["pm_card_visa", "pm_card_threeDSecure", "pm_card_threeDSecureFail"])


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(capture_now=st.booleans(), token=TOKENS, ops=OPS)
# the paths through the customer's action, always walked (the draws may miss them)
@example(
    False,
    "pm_card_threeDSecure",
    [("confirm", 0), ("act", 0), ("confirm", 0), ("capture", 600), ("refund", -1)],
)
@example(
    True, "pm_card_threeDSecureFail", [("act", 0), ("confirm", 0), ("confirm", 0), ("refund", 0)]
)
@example(True, "pm_card_threeDSecure", [("cancel", 0), ("act", 0), ("confirm", 0)])
async def test_operations_keep_the_books_consistent(
    db: Backend, tmp_path: Any, capture_now: bool, token: str, ops: list[tuple[str, int]]
) -> None:
    registry = build_registry(db.settings(tmp_path))
    m = await merchant(db.sessions)
    common = {"account_id": m.account_id, "livemode": False}
    view = await create_and_confirm(
        db.sessions,
        registry,
        NewPayment(**common, amount=Money(1000, "USD"), payment_method=token, capture=capture_now),
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
            elif op == "act":
                await simulate.complete_action(db.sessions, registry, **common, payment_id=pid)
            elif op == "confirm":
                await confirm.confirm_payment(db.sessions, registry, **common, payment_id=pid)
            else:
                await refund.refund_payment(
                    db.sessions, registry, **common, payment_id=pid, amount=amount
                )
        except PaymentDeclined:
            # a decline is recorded (the challenge failed), not refused
            assert op == "confirm" and (await _snapshot(db, pid))[0] == "failed"
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
        # next_action exactly while waiting for the customer, who has been charged nothing
        assert (p.next_action is not None) == (p.status == "requires_action")
        if p.status == "requires_action":
            assert p.amount_captured == p.amount_capturable == 0
        assert p.pending_operation is None  # nothing left in flight between operations
        payment_events = (
            await s.scalars(select(Event.data).where(Event.type.like("payment.%")))
        ).all()
        audits = await s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.object_id == pid)
        )
        mine = [d for d in payment_events if d.get("id") == pid]
        assert len(mine) == audits  # one audit entry per event, written together
