"""Executing payout batches against the Rise stand-in: partial failure, retries with the
same idempotency keys, status polling, commissions paid or failed with their transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kassa.core.settings import Settings
from kassa.payouts import execution
from kassa.payouts.execution import Policy
from kassa.payouts.models import PayoutTransaction
from kassa.payouts.provider import payout_provider
from tests.conftest import Backend
from tests.fakes.rise.server import RiseStandIn
from tests.payouts.conftest import World
from tests.payouts.test_batches import earn

NOW = Policy(max_attempts=3, base_delay=timedelta(0))


async def batch_of(world: World, rise: RiseStandIn, *codes: str) -> dict[str, Any]:
    for code in codes:
        affiliate = await world.affiliate(code, rate_bps=10_000)
        await world.payable_payee(rise, affiliate)
        await earn(world, code, "30.00", 2)
    [batch] = (await world.post("/v1/payout_batches", {}, 201))["data"]
    return batch


def by_payee(batch: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["provider_payee_id"].lower(): t for t in batch["transactions"]}


async def test_partial_failure_then_polling_completes_the_batch(
    world: World, rise: RiseStandIn, db: Backend, settings: Settings
) -> None:
    batch = await batch_of(world, rise, "ada", "bob")
    ada, bob = (p for p in rise.payees.values())
    bob.kyc_status = "rejected"  # Rise refuses bob's payment, the rest goes on
    provider = payout_provider(settings)
    await execution.execute(db.sessions, provider, batch["id"], NOW)
    seen = await world.get(f"/v1/payout_batches/{batch['id']}")
    assert seen["status"] == "processing" and seen["executed_at"]
    txs = by_payee(seen)
    assert txs[ada.riseid.lower()]["status"] == "processing"
    assert txs[ada.riseid.lower()]["provider_transaction_id"]
    failed = txs[bob.riseid.lower()]
    assert failed["status"] == "failed" and failed["error_code"] == "payee_not_payable"
    commissions = (await world.get("/v1/commissions?limit=10"))["data"]
    by_status = sorted(c["status"] for c in commissions)
    assert by_status == ["failed", "failed", "queued", "queued"]

    # Rise settles ada's payment; the poll learns it
    [paid] = [t for t in rise.transactions.values() if t.recipient.lower() == ada.riseid.lower()]
    await rise.advance(paid.nanoid, "complete")
    assert await execution.poll(db.sessions, lambda: provider, older_than=timedelta(0)) == 1
    done = await world.get(f"/v1/payout_batches/{batch['id']}")
    assert done["status"] == "completed" and done["completed_at"]
    assert by_payee(done)[ada.riseid.lower()]["status"] == "completed"
    statuses = sorted(c["status"] for c in (await world.get("/v1/commissions"))["data"])
    assert statuses == ["failed", "failed", "paid", "paid"]
    assert all(c["paid_at"] for c in (await world.get("/v1/commissions?status=paid"))["data"])
    events = (await world.get("/v1/events?limit=100"))["data"]
    assert "payout.batch.completed" in {e["type"] for e in events}


async def test_a_batch_rise_did_not_take_is_retried_with_the_same_keys(
    world: World, rise: RiseStandIn, db: Backend, settings: Settings
) -> None:
    batch = await batch_of(world, rise, "ada", "bob")
    provider = payout_provider(settings)
    rise.fail("PUT", "/v2/payments", 503, times=1)
    await execution.execute(db.sessions, provider, batch["id"], NOW)
    waiting = await world.get(f"/v1/payout_batches/{batch['id']}")
    assert waiting["status"] == "processing"
    assert [t["status"] for t in waiting["transactions"]] == ["pending", "pending"]
    assert all(t["attempts"] == 1 for t in waiting["transactions"])
    async with db.sessions() as session:
        keys = sorted((await session.scalars(select(PayoutTransaction.idempotency_key))).all())
    await execution.execute(db.sessions, provider, batch["id"], NOW)
    again = await world.get(f"/v1/payout_batches/{batch['id']}")
    assert [t["status"] for t in again["transactions"]] == ["processing", "processing"]
    assert all(t["attempts"] == 2 for t in again["transactions"])
    async with db.sessions() as session:
        assert (
            sorted((await session.scalars(select(PayoutTransaction.idempotency_key))).all()) == keys
        )
    # running it once more sends nothing: nothing is due
    await execution.execute(db.sessions, provider, batch["id"], NOW)
    assert len(rise.transactions) == 2  # each payee paid once


async def test_retries_stop_at_the_limit(
    world: World, rise: RiseStandIn, db: Backend, settings: Settings
) -> None:
    batch = await batch_of(world, rise, "ada")
    provider = payout_provider(settings)
    rise.fail("PUT", "/v2/payments", 503, times=10)
    for _ in range(3):
        await execution.execute(db.sessions, provider, batch["id"], NOW)
    gave_up = await world.get(f"/v1/payout_batches/{batch['id']}")
    assert gave_up["status"] == "failed" and gave_up["error_message"]
    [tx] = gave_up["transactions"]
    assert tx["status"] == "failed" and tx["attempts"] == 3
    assert rise.transactions == {}
    cancel = await world.client.post(
        f"/v1/payout_batches/{batch['id']}/cancel", headers=world.acme.auth
    )
    assert cancel.status_code == 409  # executed: no longer cancellable
