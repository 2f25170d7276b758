"""What the provider-event tests share: payments made through the write path with mocks named
after the real providers, provider events shaped as each provider sends them, stored and run
through the jobs machinery (the ingestion's part, done by hand)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from kassa.core import clock
from kassa.core.audit import AuditEntry
from kassa.core.db import transaction
from kassa.core.ids import new_id
from kassa.core.money import Money
from kassa.jobs import enqueue
from kassa.jobs.models import Event, Job
from kassa.jobs.registry import JobRegistry
from kassa.jobs.worker import Worker
from kassa.payins import create_payment
from kassa.payins.jobs import provider_event_job
from kassa.payins.models import Dispute, Payment, Refund
from kassa.payins.provider_events.handler import JOB, CompleteAction
from kassa.providers.credentials import DEFAULT
from kassa.providers.mock import MockProvider
from kassa.providers.registry import ProviderRegistry, build_registry
from kassa.webhooks.inbound.models import InboundEvent
from tests.conftest import Backend

KINDS = ("stripe", "paypal", "braintree")


@dataclass
class Kit:
    db: Backend
    registry: ProviderRegistry
    worker: Worker

    async def pay(
        self, account_id: str, provider: str, *, capture: bool = True, livemode: bool = False
    ) -> Payment:
        """A payment made through create-and-confirm on the mock named ``provider``."""
        new = create_payment.NewPayment(
            account_id,
            livemode,
            Money(10000, "USD"),
            payment_method="pm_card_visa",
            capture=capture,
            provider=provider,
        )
        view = await create_payment.create_and_confirm(self.db.sessions, self.registry, new)
        return await self.payment(str(view["id"]))

    async def processing(self, account_id: str, provider: str) -> Payment:
        """A payment whose intent is committed and whose provider answer is not (yet)."""
        new = create_payment.NewPayment(
            account_id,
            False,
            Money(10000, "USD"),
            payment_method="pm_card_visa",
            provider=provider,
        )
        return await create_payment.intend(self.db.sessions, new=new, registry=self.registry)

    async def payment(self, payment_id: str) -> Payment:
        async with self.db.sessions() as s:
            row = await s.get(Payment, payment_id)
            assert row is not None
            return row

    async def deliver(
        self,
        provider: str,
        event_type: str,
        payload: dict[str, Any],
        *,
        account_id: str | None,
        credentials_id: str = "pcr_test",
        livemode: bool = False,
        event_id: str | None = None,
    ) -> InboundEvent:
        """Store the event as ingestion does, enqueue its job, run what is due, return it."""
        async with transaction(self.db.sessions) as session:
            row = InboundEvent(
                id=new_id("iev"),
                provider=provider,
                credentials_id=credentials_id,
                account_id=account_id if credentials_id != DEFAULT else None,
                livemode=livemode,
                event_id=event_id or new_id("evt"),
                event_type=event_type,
                payload=payload,
                status="received",
                error=None,
                attempts=0,
                object_id=None,
                received_at=clock.now(),
                processed_at=None,
            )
            session.add(row)
            enqueue(session, JOB, {"inbound_event_id": row.id})
        await self.worker.run_due()
        return await self.inbound(row.id)

    async def rerun(self, event_id: str) -> InboundEvent:
        """Run the event's job again (a redelivery that ingestion let through, a reprocess)."""
        async with transaction(self.db.sessions) as session:
            enqueue(session, JOB, {"inbound_event_id": event_id})
        await self.worker.run_due()
        return await self.inbound(event_id)

    async def inbound(self, event_id: str) -> InboundEvent:
        async with self.db.sessions() as s:
            row = await s.get(InboundEvent, event_id)
            assert row is not None
            return row

    async def event_types(self, object_id: str) -> list[str]:
        """The kassa events about ``object_id``, oldest first."""
        async with self.db.sessions() as s:
            rows = await s.scalars(select(Event).order_by(Event.created_at, Event.id))
            return [e.type for e in rows if e.data.get("id") == object_id]

    async def audit_actions(self, object_id: str) -> list[str]:
        async with self.db.sessions() as s:
            rows = await s.scalars(
                select(AuditEntry)
                .where(AuditEntry.object_id == object_id)
                .order_by(AuditEntry.created_at, AuditEntry.id)
            )
            return [a.action for a in rows]

    async def refunds(self, payment_id: str) -> list[Refund]:
        async with self.db.sessions() as s:
            rows = await s.scalars(
                select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.id)
            )
            return list(rows)

    async def disputes(self, payment_id: str) -> list[Dispute]:
        async with self.db.sessions() as s:
            rows = await s.scalars(select(Dispute).where(Dispute.payment_id == payment_id))
            return list(rows)

    async def count(self, model: type[Any]) -> int:
        async with self.db.sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(model)) or 0)

    async def jobs(self) -> list[Job]:
        async with self.db.sessions() as s:
            return list(await s.scalars(select(Job).where(Job.name == JOB)))


def make_kit(db: Backend, tmp: Path, complete_action: CompleteAction | None = None) -> Kit:
    mocks = {kind: MockProvider(kind) for kind in KINDS}
    registry = build_registry(db.settings(tmp), extra_providers=dict(mocks))
    jobs = JobRegistry()
    jobs.register(JOB, provider_event_job(complete_action=complete_action), max_attempts=10)
    return Kit(db, registry, Worker(db.sessions, registry=jobs, schedules={}))


# -- payloads as each provider sends them ----------------------------------------------------
def stripe_event(event_type: str, obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": "2024-06-20",
        "created": 1234567890,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": obj},
        **extra,
    }


def payment_intent(pi: str, status: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": pi,
        "object": "payment_intent",
        "amount": 10000,
        "amount_capturable": 0,
        "amount_received": 10000 if status == "succeeded" else 0,
        "capture_method": "automatic",
        "currency": "usd",
        "latest_charge": "ch_" + pi[3:],
        "last_payment_error": None,
        "livemode": False,
        "metadata": {},
        "status": status,
        **fields,
    }


def charge(
    pi: str, *, amount_refunded: int, refunds: list[dict[str, Any]] | None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "ch_" + pi[3:],
        "object": "charge",
        "amount": 10000,
        "amount_captured": 10000,
        "amount_refunded": amount_refunded,
        "captured": True,
        "currency": "usd",
        "disputed": False,
        "livemode": False,
        "paid": True,
        "payment_intent": pi,
        "refunded": amount_refunded == 10000,
        "status": "succeeded",
    }
    if refunds is not None:
        obj["refunds"] = {"object": "list", "data": refunds, "has_more": False}
    return obj


def stripe_refund(re_id: str, pi: str, amount: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": re_id,
        "object": "refund",
        "amount": amount,
        "charge": "ch_" + pi[3:],
        "currency": "usd",
        "metadata": {},
        "payment_intent": pi,
        "reason": "requested_by_customer",
        "status": "succeeded",
        **fields,
    }


def stripe_dispute(dp: str, pi: str, status: str, amount: int = 10000) -> dict[str, Any]:
    return {
        "id": dp,
        "object": "dispute",
        "amount": amount,
        "charge": "ch_" + pi[3:],
        "currency": "usd",
        "evidence_details": {
            "due_by": 1723679999,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": pi,
        "reason": "fraudulent",
        "status": status,
    }


def paypal_event(event_type: str, resource_type: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "WH-" + new_id("x")[2:],
        "create_time": "2026-01-27T10:00:00Z",
        "resource_type": resource_type,
        "event_type": event_type,
        "event_version": "1.0",
        "resource_version": "2.0",
        "summary": event_type,
        "resource": resource,
        "links": [],
    }


def paypal_capture(capture_id: str, order_id: str, status: str) -> dict[str, Any]:
    return {
        "id": capture_id,
        "status": status,
        "amount": {"currency_code": "USD", "value": "100.00"},
        "final_capture": True,
        "supplementary_data": {"related_ids": {"order_id": order_id}},
        "create_time": "2026-01-27T10:00:00Z",
        "update_time": "2026-01-27T10:00:00Z",
        "links": [
            {
                "href": f"https://api.sandbox.paypal.com/v2/payments/captures/{capture_id}",
                "rel": "self",
                "method": "GET",
            }
        ],
    }


def braintree_payload(kind: str, object_id: str) -> dict[str, Any]:
    """A notification made by the braintree SDK's own WebhookTesting, parsed as the SDK parses
    it and made JSON-safe: what ingestion stores for Braintree (see braintree.py)."""
    import braintree
    from braintree.util.xml_util import XmlUtil

    gateway = braintree.BraintreeGateway(
        braintree.Configuration(
            braintree.Environment.Sandbox,
            merchant_id="kassa_test",
            public_key="public_test",
            private_key="private_test",
        )
    )
    sample = gateway.webhook_testing.sample_notification(kind, object_id)
    parsed = XmlUtil.dict_from_xml(base64.b64decode(sample["bt_payload"]))
    notification: dict[str, Any] = json.loads(json.dumps(parsed["notification"], default=_iso))
    return notification


def _iso(value: object) -> str:
    """Dates and times as ISO text, decimals as their text (as ingestion stores them)."""
    isoformat = getattr(value, "isoformat", None)
    return str(isoformat() if isoformat else value)
