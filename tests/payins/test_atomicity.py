"""A state change, its audit entry and its event commit together, or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kassa.core import executor
from kassa.core.audit import AuditEntry
from kassa.core.changes import ChangeSet
from kassa.core.db import transaction
from kassa.core.money import Money
from kassa.jobs.models import Event
from kassa.payins import lifecycle
from kassa.payins.create_payment import NewPayment, describe_intent, intend
from kassa.payins.models import Payment
from kassa.payins.repository import get_payment
from kassa.payins.state import SUCCEEDED
from kassa.providers.registry import build_registry
from tests.conftest import Backend
from tests.factories import merchant


class Boom(Exception):
    pass


async def _count(db: Backend, model: type) -> int:
    async with db.sessions() as s:
        return await s.scalar(select(func.count()).select_from(model)) or 0


async def test_intent_events_and_audit_commit_together(db: Backend, tmp_path: Path) -> None:
    registry = build_registry(db.settings(tmp_path))
    m = await merchant(db.sessions)
    new = NewPayment(m.account_id, False, Money(500, "USD"), payment_method="pm_card_visa")
    audits = await _count(db, AuditEntry)
    payment = await intend(db.sessions, new=new, registry=registry)
    async with db.sessions() as s:
        stored = await s.get(Payment, payment.id)
        assert stored is not None and stored.status == "processing"
        assert stored.idempotency_key == f"{payment.id}/authorize"
        types = (await s.scalars(select(Event.type).order_by(Event.created_at))).all()
    assert types == ["payment.created", "payment.processing"]
    assert await _count(db, AuditEntry) == audits + 2


async def test_nothing_is_written_when_the_intent_is_not_committed(
    db: Backend, tmp_path: Path
) -> None:
    registry = build_registry(db.settings(tmp_path))
    m = await merchant(db.sessions)
    new = NewPayment(m.account_id, False, Money(500, "USD"), payment_method="pm_card_visa")
    audits, events = await _count(db, AuditEntry), await _count(db, Event)
    with pytest.raises(Boom):
        async with executor.unit(db.sessions) as step:
            await describe_intent(step, ChangeSet(), new=new, registry=registry)
            raise Boom
    with pytest.raises(IntegrityError):  # the commit itself fails on its last row
        async with executor.unit(db.sessions) as step:
            changes = ChangeSet()
            await describe_intent(step, changes, new=new, registry=registry)
            event = next(row for row in changes.rows if isinstance(row, Event))
            taken = Event(id=event.id, type=event.type, data={}, created_at=event.created_at)
            changes.add(taken)  # an id already in the change set
            await step.commit(changes)
    assert await _count(db, Payment) == 0
    assert (await _count(db, AuditEntry), await _count(db, Event)) == (audits, events)


async def test_a_transition_that_rolls_back_leaves_no_event(db: Backend, tmp_path: Path) -> None:
    registry = build_registry(db.settings(tmp_path))
    m = await merchant(db.sessions)
    new = NewPayment(m.account_id, False, Money(500, "USD"), payment_method="pm_card_visa")
    payment = await intend(db.sessions, new=new, registry=registry)
    audits, events = await _count(db, AuditEntry), await _count(db, Event)
    with pytest.raises(Boom):
        async with transaction(db.sessions) as session:
            row = await get_payment(session, payment.id)  # as every transition is made
            lifecycle.transition(session, row, SUCCEEDED)
            await session.flush()
            raise Boom
    async with db.sessions() as s:
        row = await s.get(Payment, payment.id)
        assert row is not None and row.status == "processing"
    assert (await _count(db, AuditEntry), await _count(db, Event)) == (audits, events)
