"""Requests racing on one payment: its guards let exactly one of each conflicting change in.

Writes are compare-and-set (a change commits only if the rows are still as read, and is
described again from fresh reads otherwise), so concurrent refunds never reserve the same
money twice, and a capture racing a cancel leaves one of them refused.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from kassa.core.errors import KassaError
from kassa.core.money import Money
from kassa.payins import cancel, capture, refund
from kassa.payins.create_payment import NewPayment, create_and_confirm
from kassa.payins.models import Payment, Refund
from kassa.providers.registry import build_registry
from tests.conftest import Backend
from tests.factories import merchant


async def _outcomes(calls: list[Any]) -> list[str]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    names = []
    for result in results:
        if isinstance(result, KassaError):
            names.append(result.code)
        elif isinstance(result, BaseException):
            raise result
        else:
            names.append("ok")
    return sorted(names)


async def test_concurrent_refunds_never_refund_more_than_was_captured(
    db: Backend, tmp_path: Path
) -> None:
    registry = build_registry(db.settings(tmp_path))
    m = await merchant(db.sessions)
    common: dict[str, Any] = {"account_id": m.account_id, "livemode": False}
    paid = await create_and_confirm(
        db.sessions,
        registry,
        NewPayment(**common, amount=Money(10000, "USD"), payment_method="pm_card_visa"),
    )
    pid = str(paid["id"])
    outcomes = await _outcomes(
        [
            refund.refund_payment(
                db.sessions, registry, **common, payment_id=pid, amount=Money(3000, "USD")
            )
            for _ in range(5)
        ]
    )
    assert outcomes == ["amount_too_large"] * 2 + ["ok"] * 3
    async with db.sessions() as s:
        payment = await s.get(Payment, pid)
        assert payment is not None
        assert (payment.status, payment.amount_refunded, payment.amount_refund_pending) == (
            "partially_refunded",
            9000,
            0,
        )
        refunded = await s.scalar(
            select(func.sum(Refund.amount)).where(
                Refund.payment_id == pid, Refund.status == "succeeded"
            )
        )
    assert refunded == 9000


async def test_a_capture_racing_a_cancel_leaves_one_of_them_refused(
    db: Backend, tmp_path: Path
) -> None:
    registry = build_registry(db.settings(tmp_path))
    m = await merchant(db.sessions)
    common: dict[str, Any] = {"account_id": m.account_id, "livemode": False}
    for _ in range(3):
        held = await create_and_confirm(
            db.sessions,
            registry,
            NewPayment(
                **common, amount=Money(5000, "USD"), payment_method="pm_card_visa", capture=False
            ),
        )
        pid = str(held["id"])
        outcomes = await _outcomes(
            [
                capture.capture_payment(
                    db.sessions, registry, **common, payment_id=pid, amount=None
                ),
                cancel.cancel_payment(db.sessions, registry, **common, payment_id=pid),
            ]
        )
        async with db.sessions() as s:
            payment = await s.get(Payment, pid)
            assert payment is not None
        if payment.status == "succeeded":
            assert outcomes == ["ok", "payment_not_cancelable"]
            assert payment.amount_captured == 5000 and payment.canceled_at is None
        else:
            assert payment.status == "canceled"
            assert outcomes == ["ok", "payment_not_capturable"]
            assert payment.amount_captured == 0
