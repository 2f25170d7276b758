"""The whole payout cycle with Rise's webhooks and e-mail: subscription events -> commissions
-> approval -> a scheduled batch (two workers) -> the Rise stand-in (one retry, one payee it
cannot pay) -> Rise's signed webhook to kassa's real HTTP server -> paid -> the affiliate's
e-mail at a real SMTP server; then a refund after the commission was paid, carried forward.
And what a forged, stale or repeated webhook does: nothing, or nothing more."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select, update

from kassa.accounts.users import create_user
from kassa.core.db import transaction
from kassa.core.settings import Settings
from kassa.jobs import JobContext
from kassa.jobs.models import Event, Job
from kassa.jobs.registry import JobRegistry
from kassa.jobs.worker import Worker
from kassa.notify import mailer_from_settings
from kassa.payouts import execution, notifications, schedules
from kassa.payouts.jobs import install_notifications, install_rise_events
from kassa.payouts.models import PayoutTransaction
from kassa.payouts.provider import payout_provider
from kassa.webhooks.inbound.models import InboundEvent
from tests.conftest import Backend
from tests.factories import merchant
from tests.fakes.rise.server import RiseStandIn
from tests.fakes.rise.wire import event_body, hmac_headers, signed_hash_headers
from tests.notify.smtp import Inbox, smtp_server
from tests.openapi_conformance import api_transport
from tests.payouts.conftest import World

NOW_POLICY = execution.Policy(max_attempts=3, base_delay=timedelta(0))
WEDNESDAY = datetime(2026, 3, 4, 9, 5, tzinfo=UTC)


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as found:
        yield found


@pytest.fixture
def settings(
    db: Backend, tmp_path: Path, rise: RiseStandIn, wallet: LocalAccount, inbox: Inbox
) -> Settings:
    return db.settings(
        tmp_path,
        rise_api_base_url=rise.url,
        rise_company_id=rise.company_id,
        rise_wallet_address=wallet.address,
        rise_wallet_private_key="0x" + bytes(wallet.key).hex(),
        rise_signer_address=rise.signer.address,
        rise_webhook_secret=rise.webhook_secret,
        provider_timeout_seconds=5.0,
        smtp_host=inbox.host,
        smtp_port=inbox.port,
        smtp_starttls=False,
        smtp_from="payouts@kassa.test",
        payment_schedule_enabled=True,
        payment_schedule_frequency="daily",
        payment_schedule_daily_time="09:00",
        payment_schedule_timezone="UTC",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def client(settings: Settings, rise: RiseStandIn) -> AsyncIterator[httpx.AsyncClient]:
    """The app, in-process for the test's calls and on a real port for Rise's webhooks."""
    from kassa.api.app import create_app

    app = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    async with app.router.lifespan_context(app):
        task = asyncio.create_task(server.serve())
        for _ in range(1000):  # uvicorn has no started event to wait on
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started
        rise.webhook_url = f"http://127.0.0.1:{port}/webhooks/rise"
        async with httpx.AsyncClient(
            transport=api_transport(app), base_url="http://kassa.test"
        ) as c:
            yield c
        server.should_exit = True
        await task


@dataclass
class Kit:
    world: World
    db: Backend
    rise: RiseStandIn
    workers: tuple[Worker, Worker]

    async def work(self) -> None:
        """Two workers run what is due until nothing is."""
        for _ in range(5):
            ran = await asyncio.gather(*(w.run_due() for w in self.workers))
            if not any(ran):
                return

    async def events(self, kind: str) -> list[Event]:
        async with self.db.sessions() as s:
            return list((await s.scalars(select(Event).where(Event.type == kind))).all())

    async def stored(self) -> list[InboundEvent]:
        async with self.db.sessions() as s:
            return list((await s.scalars(select(InboundEvent))).all())


@pytest.fixture
async def kit(client: httpx.AsyncClient, db: Backend, rise: RiseStandIn, settings: Settings) -> Kit:
    registry = JobRegistry()  # this test's jobs, with this test's Rise and SMTP server
    install_rise_events(registry, settings)
    install_notifications(registry, settings, mailer_from_settings(settings))
    provider = payout_provider(settings)

    async def execute_batch(ctx: JobContext) -> None:
        await execution.execute(ctx.sessions, provider, ctx.args["batch_id"], NOW_POLICY)

    registry.register(execution.EXECUTE_JOB, execute_batch, max_attempts=10)
    workers = (
        Worker(db.sessions, registry=registry, schedules={}),
        Worker(db.sessions, registry=registry, schedules={}),
    )
    return Kit(World(client, await merchant(db.sessions)), db, rise, workers)


async def subscription_event(world: World, event_id: str, kind: str, value: str) -> Any:
    return await world.post(
        "/v1/subscription_events",
        {
            "event_id": event_id,
            "type": kind,
            "affiliate_code": "ada",
            "subscription_id": "sub_ada_1",
            "amount": {"value": value, "currency": "USD"},
            "occurred_at": "2026-03-01T10:00:00Z",
        },
        201,
    )


async def test_the_whole_cycle_from_subscription_event_to_the_affiliates_email(
    kit: Kit, inbox: Inbox, settings: Settings
) -> None:
    world, rise = kit.world, kit.rise
    ada = await world.affiliate("ada", rate_bps=2500)
    bob = await world.affiliate("bob", rate_bps=10_000)
    await world.payable_payee(rise, ada)
    await world.payable_payee(rise, bob)
    new = await subscription_event(world, "evt_new", "new", "200.00")
    renewal = await subscription_event(world, "evt_renewal", "renewal", "200.00")
    bobs = await world.post(
        "/v1/subscription_events",
        {
            "event_id": "evt_bob",
            "type": "new",
            "affiliate_code": "bob",
            "subscription_id": "sub_bob_1",
            "amount": {"value": "75.00", "currency": "USD"},
            "occurred_at": "2026-03-01T10:00:00Z",
        },
        201,
    )
    ids = [e["commissions"][0]["id"] for e in (new, renewal, bobs)]
    approved = await world.post("/v1/commissions/approve", {"ids": ids})
    assert sorted(approved["approved"]) == sorted(ids)

    # Rise will refuse bob's payment (KYC withdrawn at Rise), and the first call is lost.
    next(p for p in rise.payees.values() if p.email == bob["email"]).kyc_status = "pending"
    rise.fail("PUT", "/v2/payments", 503, times=1)

    # The 09:00 slot, two workers ticking at once: one batch.
    first, second = await asyncio.gather(
        schedules.run_due(kit.db.sessions, settings, WEDNESDAY),
        schedules.run_due(kit.db.sessions, settings, WEDNESDAY),
    )
    [batch] = first + second
    await kit.work()  # execute: 503, retried with the same keys, then Rise takes it

    seen = await world.get(f"/v1/payout_batches/{batch.id}")
    txs = {t["affiliate_id"]: t for t in seen["transactions"]}
    assert txs[ada["id"]]["status"] == "processing" and txs[ada["id"]]["attempts"] == 2
    assert txs[bob["id"]]["status"] == "failed"
    assert txs[bob["id"]]["error_code"] == "payee_not_payable"
    [paying] = [t for t in rise.transactions.values() if t.state == "intent"]
    assert paying.cents == 10_000  # 25 % of 200.00 twice: one payment, paid once

    # Rise settles it and says so by webhook (signed hash scheme) to kassa's real server.
    await rise.advance(paying.nanoid, "complete")
    assert [status for _, _, status in rise.webhooks_sent] == [200, 200]  # payment + batch
    await kit.work()

    done = await world.get(f"/v1/payout_batches/{batch.id}")
    assert done["status"] == "completed"  # partly failed: see the transactions
    txs = {t["affiliate_id"]: t for t in done["transactions"]}
    assert txs[ada["id"]]["status"] == "completed"
    commissions = (await world.get("/v1/commissions?limit=10"))["data"]
    by_affiliate = {(c["affiliate_id"], c["status"]) for c in commissions}
    assert by_affiliate == {(ada["id"], "paid"), (bob["id"], "failed")}
    assert len(await kit.events("payout.paid")) == 1
    assert len(await kit.events("payout.failed")) == 1
    assert len(await kit.events("payout.batch.completed")) == 1
    assert {e.status for e in await kit.stored()} == {"processed"}

    # The e-mails, at the SMTP server: ada paid, bob told what to do. No Rise account ids.
    mails = {tuple(r): m for r, m in zip(inbox.recipients, inbox.messages, strict=True)}
    assert set(mails) == {(ada["email"],), (bob["email"],)}
    paid = mails[(ada["email"],)]
    assert paid["Subject"] == "Your payout of 100.00 USD was paid"
    assert batch.number in paid.get_content() and "100.00 USD" in paid.get_content()
    failed = mails[(bob["email"],)].get_content()
    assert "payee_not_payable" in failed and "KYC" in failed
    for message in inbox.messages:
        text = message.get_content()
        assert all(p.riseid.lower() not in text.lower() for p in rise.payees.values())

    # The poll and a redelivered webhook agree: nothing more happens.
    provider = payout_provider(settings)
    await execution.poll(kit.db.sessions, lambda: provider, older_than=timedelta(0))
    headers, body, _ = rise.webhooks_sent[0]
    again = await world.client.post("/webhooks/rise", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    await kit.work()
    assert len(await kit.events("payout.paid")) == 1 and len(inbox.messages) == 2
    assert len(await kit.stored()) == 2

    # A refund after the commission was paid: a negative adjustment, carried forward.
    refund = await subscription_event(world, "evt_refund", "refund", "200.00")
    [adjustment] = refund["commissions"]
    assert adjustment["amount"]["value"] == "-50.00" and adjustment["status"] == "approved"
    preview = await world.get("/v1/payout_batches/preview")
    [held] = [h for h in preview["held_back"] if h["affiliate_id"] == ada["id"]]
    assert held["amount"]["value"] == "-50.00" and held["reasons"] == ["not_positive"]


async def test_hmac_webhooks_are_applied_too(kit: Kit, inbox: Inbox) -> None:
    world, rise = kit.world, kit.rise
    rise.webhook_scheme = "hmac"
    ada = await world.affiliate("ada", rate_bps=10_000)
    await world.payable_payee(rise, ada)
    made = await subscription_event(world, "evt_h", "new", "60.00")
    await world.post(f"/v1/commissions/{made['commissions'][0]['id']}/approve", {})
    [batch] = (await world.post("/v1/payout_batches", {}, 201))["data"]
    await kit.work()
    [paying] = rise.transactions.values()
    await rise.advance(paying.nanoid, "complete")
    await kit.work()
    done = await world.get(f"/v1/payout_batches/{batch['id']}")
    assert done["status"] == "completed"
    assert [m["Subject"] for m in inbox.messages] == ["Your payout of 60.00 USD was paid"]


def _payment_event(kind: str = "payment.completed", created: int | None = None) -> bytes:
    at = int(datetime.now(UTC).timestamp()) if created is None else created
    return event_body(kind, {"payment": {"nanoid": "pa-unknown", "state": "complete"}}, at)


async def test_forged_and_stale_webhooks_are_refused_and_nothing_is_applied(
    kit: Kit, rise: RiseStandIn
) -> None:
    http = kit.world.client
    body = _payment_event()
    stale_at = int(datetime.now(UTC).timestamp()) - 301
    stale = _payment_event(created=stale_at)
    forger: LocalAccount = Account.create()
    cases = {
        "wrong hash": (
            body,
            {**signed_hash_headers(body, rise.signer), "x-rise-hash": "0x" + "0" * 64},
        ),
        "wrong signer": (body, signed_hash_headers(body, forger)),
        "stale signed hash": (stale, signed_hash_headers(stale, rise.signer)),
        "wrong secret": (body, hmac_headers(body, "whsec_other", int(rise.now()))),
        "stale hmac": (body, hmac_headers(body, rise.webhook_secret, stale_at)),
        "tampered body": (
            body.replace(b"complete", b"removed"),
            hmac_headers(body, rise.webhook_secret, int(rise.now())),
        ),
    }
    for name, (content, headers) in cases.items():
        response = await http.post("/webhooks/rise", content=content, headers=headers)
        assert response.status_code == 400, name
        assert response.json()["code"] == "invalid_signature", name
    assert await kit.stored() == []

    # A correct one about a payment kassa does not know: kept, marked, nothing paid.
    good = await http.post("/webhooks/rise", content=body, headers=rise.webhook_headers(body))
    assert good.status_code == 200
    await kit.work()
    [kept] = await kit.stored()
    assert kept.status == "unknown_object" and kept.payload["payment"]["nanoid"] == "pa-unknown"
    deposit = event_body("deposit.deposit_received", {"deposit": {"amount": "1"}}, int(rise.now()))
    answer = await http.post(
        "/webhooks/rise", content=deposit, headers=rise.webhook_headers(deposit, "hmac")
    )
    assert answer.status_code == 200
    await kit.work()
    async with kit.db.sessions() as s:
        statuses = (await s.execute(select(InboundEvent.event_type, InboundEvent.status))).all()
        assert set(statuses) == {
            ("payment.completed", "unknown_object"),
            ("deposit.deposit_received", "processed"),
        }
        paid = select(func.count()).select_from(Event).where(Event.type.like("payout.%"))
        assert await s.scalar(paid) == 0


async def test_admins_are_told_of_a_failed_batch_and_of_large_pending_volume(
    kit: Kit, inbox: Inbox, settings: Settings
) -> None:
    world, rise, db = kit.world, kit.rise, kit.db
    async with transaction(db.sessions) as session:
        await create_user(
            session,
            email="owner@acme.test",
            password="a long enough password",
            role="admin",
            account_id=world.acme.account_id,
        )
    ada = await world.affiliate("ada", rate_bps=10_000)
    await world.payable_payee(rise, ada)
    made = await subscription_event(world, "evt_f", "new", "60.00")
    await world.post(f"/v1/commissions/{made['commissions'][0]['id']}/approve", {})
    next(iter(rise.payees.values())).kyc_status = "rejected"  # Rise cannot pay the only payee
    [batch] = (await world.post("/v1/payout_batches", {}, 201))["data"]
    await kit.work()
    assert (await world.get(f"/v1/payout_batches/{batch['id']}"))["status"] == "failed"
    mails = {tuple(r): m for r, m in zip(inbox.recipients, inbox.messages, strict=True)}
    admin = mails[("owner@acme.test",)]
    assert admin["Subject"] == f"kassa: payout batch {batch['number']} failed"
    assert "payee_not_payable" in admin.get_content() and "60.00 USD" in admin.get_content()
    assert mails[(ada["email"],)]["Subject"] == "Action needed: your payout of 60.00 USD failed"

    # More unpaid commissions than the threshold: the hourly job tells the admins.
    for n in range(3):
        await subscription_event(world, f"evt_p{n}", "renewal", "10.00")
    low = settings.model_copy(update={"payout_pending_alert_count": 2})
    async with db.sessions() as session:
        [alert] = await notifications.pending_volume(session, low)
        assert await notifications.pending_volume(session, settings) == []
    assert alert.to == ("owner@acme.test",)
    assert "3 unpaid commissions" in alert.body


async def test_a_failure_rise_reports_by_webhook_fails_or_retries_the_payout(
    kit: Kit, inbox: Inbox
) -> None:
    world, rise = kit.world, kit.rise
    for code in ("ada", "bob"):
        affiliate = await world.affiliate(code, rate_bps=10_000)
        await world.payable_payee(rise, affiliate)
        made = await world.post(
            "/v1/subscription_events",
            {
                "event_id": f"evt_{code}",
                "type": "new",
                "affiliate_code": code,
                "subscription_id": f"sub_{code}",
                "amount": {"value": "60.00", "currency": "USD"},
                "occurred_at": "2026-03-01T10:00:00Z",
            },
            201,
        )
        await world.post(f"/v1/commissions/{made['commissions'][0]['id']}/approve", {})
    [batch] = (await world.post("/v1/payout_batches", {}, 201))["data"]
    await kit.work()
    gone, short = sorted(rise.transactions.values(), key=lambda t: t.nanoid)
    await rise.advance(gone.nanoid, "removed")  # failed on chain: for good
    await rise.advance(short.nanoid, "removed", error_code="INSUFFICIENT_BALANCE")
    await kit.work()
    seen = await world.get(f"/v1/payout_batches/{batch['id']}")
    by_rise = {t["provider_transaction_id"]: t for t in seen["transactions"]}
    assert by_rise[gone.nanoid]["status"] == "failed"
    assert by_rise[gone.nanoid]["error_code"] == "payment_failed"
    retried = by_rise[short.nanoid]
    assert retried["status"] == "pending" and retried["error_code"] == "insufficient_balance"
    assert seen["status"] == "processing"  # the short one is retried after the backoff
    assert len(await kit.events("payout.failed")) == 1
    assert [m["Subject"] for m in inbox.messages] == [
        "Action needed: your payout of 60.00 USD failed"
    ]
    async with kit.db.sessions() as s:
        jobs = await s.scalars(select(Job).where(Job.name == execution.EXECUTE_JOB))
        assert any(j.status == "queued" and j.run_at > j.created_at for j in jobs)


async def test_a_webhook_before_kassa_recorded_rises_answer_finds_its_transaction_by_salt(
    kit: Kit, inbox: Inbox
) -> None:
    world, rise, db = kit.world, kit.rise, kit.db
    ada = await world.affiliate("ada", rate_bps=10_000)
    await world.payable_payee(rise, ada)
    made = await subscription_event(world, "evt_s", "new", "60.00")
    await world.post(f"/v1/commissions/{made['commissions'][0]['id']}/approve", {})
    [batch] = (await world.post("/v1/payout_batches", {}, 201))["data"]
    await kit.work()
    async with transaction(db.sessions) as session:  # as if Rise's answer was never recorded
        await session.execute(update(PayoutTransaction).values(provider_transaction_id=None))
    [paying] = rise.transactions.values()
    await rise.advance(paying.nanoid, "complete")
    await kit.work()
    [tx] = (await world.get(f"/v1/payout_batches/{batch['id']}"))["transactions"]
    assert tx["status"] == "completed" and tx["provider_transaction_id"] == paying.nanoid
    assert [m["Subject"] for m in inbox.messages] == ["Your payout of 60.00 USD was paid"]
