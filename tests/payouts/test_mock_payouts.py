"""The whole payouts flow on the mock payout provider (the default: no settings), one test
per scenario the payee id selects: invite, KYC, batch, execution, retries with the same keys
(never paid twice), status polling of delayed confirmations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kassa.core.money import Money
from kassa.core.settings import Settings
from kassa.jobs.models import Job
from kassa.jobs.registry import JOBS
from kassa.jobs.worker import Worker
from kassa.payouts import execution, mock_events
from kassa.payouts.execution import Policy
from kassa.payouts.provider import payout_provider
from kassa.payouts.schedules import run_due
from kassa.providers.base import BatchPayoutRequest, PayoutLookup, PayoutRequest
from kassa.providers.payout_mock import MockPayoutProvider
from kassa.webhooks.inbound.models import InboundEvent
from tests.conftest import Backend
from tests.factories import merchant
from tests.payouts.conftest import World
from tests.payouts.test_batches import earn
from tests.payouts.test_schedules import scheduled

NOW = Policy(max_attempts=3, base_delay=timedelta(0))


@pytest.fixture
def settings(db: Backend, tmp_path: Path) -> Settings:
    return db.settings(tmp_path)  # no RISE_*, no KASSA_PAYOUT_PROVIDER


@pytest.fixture
def mock(settings: Settings) -> MockPayoutProvider:
    provider = payout_provider(settings)
    assert isinstance(provider, MockPayoutProvider)
    return provider


async def payee(world: World, code: str, payee_id: str) -> dict[str, Any]:
    affiliate = await world.affiliate(code, rate_bps=10_000)
    made = await world.post(
        f"/v1/affiliates/{affiliate['id']}/payees", {"provider_payee_id": payee_id}, 201
    )
    synced = await world.post(f"/v1/affiliates/{affiliate['id']}/payees/{made['id']}/sync", {})
    await earn(world, code, "30.00", 2)
    return synced


async def batch_of(world: World, **payees: str) -> dict[str, Any]:
    for code, payee_id in payees.items():
        assert (await payee(world, code, payee_id))["kyc_status"] == "approved"
    [batch] = (await world.post("/v1/payout_batches", {}, 201))["data"]
    return batch


async def execute(world: World, db: Backend, mock: MockPayoutProvider, batch_id: str) -> Any:
    await execution.execute(db.sessions, mock, batch_id, NOW)
    seen = await world.get(f"/v1/payout_batches/{batch_id}")
    return seen, {t["provider_payee_id"]: t for t in seen["transactions"]}


async def test_invite_gives_a_mock_payee_whose_kyc_tests_can_set(
    world: World, mock: MockPayoutProvider
) -> None:
    affiliate = await world.affiliate("ana", email="ana+processing2@example.test")
    base = f"/v1/affiliates/{affiliate['id']}/payees"
    made = await world.post(base, {}, 201)
    invited = await world.post(f"{base}/{made['id']}/invite", {})
    assert invited["invite_status"] == "accepted"
    assert invited["provider_payee_id"].startswith("payee_processing2_")
    again = await world.post(f"{base}/{made['id']}/invite", {})  # invites once
    assert again["provider_payee_id"] == invited["provider_payee_id"]
    assert (await world.post(f"{base}/{made['id']}/sync", {}))["kyc_status"] == "approved"
    mock.set_kyc(invited["provider_payee_id"], "rejected")
    assert (await world.post(f"{base}/{made['id']}/sync", {}))["kyc_status"] == "rejected"
    info = await mock.get_payee_info(invited["provider_payee_id"])
    assert info.email == "ana+processing2@example.test" and not info.can_receive_payments


async def test_partial_failure_and_invalid_payee_in_one_batch_then_retry(
    world: World, db: Backend, mock: MockPayoutProvider
) -> None:
    mock.set_kyc("payee_invalidPayee_cy", "approved")  # its account closes after its KYC
    batch = await batch_of(
        world, ada="payee_success_ada", bob="payee_partialFailure_bob", cy="payee_invalidPayee_cy"
    )
    seen, txs = await execute(world, db, mock, batch["id"])
    assert seen["status"] == "processing"
    assert txs["payee_success_ada"]["status"] == "completed"
    assert txs["payee_partialFailure_bob"]["status"] == "pending"  # retried, same key
    assert txs["payee_partialFailure_bob"]["error_code"] == "processing_error"
    assert txs["payee_invalidPayee_cy"]["status"] == "failed"
    assert txs["payee_invalidPayee_cy"]["error_code"] == "invalid_payee"
    done, txs = await execute(world, db, mock, batch["id"])
    assert done["status"] == "completed"
    assert txs["payee_partialFailure_bob"]["status"] == "completed"
    assert txs["payee_partialFailure_bob"]["attempts"] == 2
    statuses = sorted(c["status"] for c in (await world.get("/v1/commissions?limit=20"))["data"])
    assert statuses == ["failed", "failed", "paid", "paid", "paid", "paid"]
    assert mock.ledger.paid_count() == 2


async def test_timeout_retried_with_the_same_keys_pays_once(
    world: World, db: Backend, mock: MockPayoutProvider
) -> None:
    batch = await batch_of(world, ada="payee_success_ada", bob="payee_timeout_bob")
    _, txs = await execute(world, db, mock, batch["id"])
    assert {t["status"] for t in txs.values()} == {"pending"}  # the answer was lost
    assert {t["error_code"] for t in txs.values()} == {"timeout"}
    assert mock.ledger.paid_count() == 2  # ...but the mock had paid
    done, txs = await execute(world, db, mock, batch["id"])
    assert done["status"] == "completed"
    assert {t["status"] for t in txs.values()} == {"completed"}
    assert mock.ledger.paid_count("payee_timeout_bob") == 1  # not twice
    assert mock.ledger.paid_count() == 2


async def test_rate_limit_refuses_the_batch_then_takes_it(
    world: World, db: Backend, mock: MockPayoutProvider
) -> None:
    batch = await batch_of(world, ada="payee_rateLimit_ada")
    _, txs = await execute(world, db, mock, batch["id"])
    assert txs["payee_rateLimit_ada"]["status"] == "pending"
    assert txs["payee_rateLimit_ada"]["error_code"] == "rate_limited"
    assert mock.ledger.paid_count() == 0
    done, _ = await execute(world, db, mock, batch["id"])
    assert done["status"] == "completed" and mock.ledger.paid_count() == 1


async def test_insufficient_funds_fails_after_the_retries(
    world: World, db: Backend, mock: MockPayoutProvider
) -> None:
    batch = await batch_of(world, ada="payee_insufficientFunds_ada")
    for _ in range(NOW.max_attempts):
        seen, txs = await execute(world, db, mock, batch["id"])
    assert seen["status"] == "failed"
    tx = txs["payee_insufficientFunds_ada"]
    assert tx["status"] == "failed" and tx["attempts"] == 3
    assert tx["error_code"] == "insufficient_funds"
    assert mock.ledger.paid_count() == 0


async def test_a_payout_above_the_balance_waits_until_funded(
    world: World, db: Backend, mock: MockPayoutProvider
) -> None:
    mock.fund(Money.parse("50.00", "USD"))
    batch = await batch_of(world, ada="payee_success_ada")  # 60.00
    _, txs = await execute(world, db, mock, batch["id"])
    assert txs["payee_success_ada"]["error_code"] == "insufficient_funds"
    mock.fund(Money.parse("100.00", "USD"))
    done, _ = await execute(world, db, mock, batch["id"])
    assert done["status"] == "completed"
    assert (await mock.balance("USD")).available == Money.parse("40.00", "USD")


async def test_delayed_confirmation_is_settled_by_polling(
    world: World, db: Backend, mock: MockPayoutProvider
) -> None:
    batch = await batch_of(world, ada="payee_processing2_ada")
    seen, txs = await execute(world, db, mock, batch["id"])
    assert seen["status"] == "processing"
    assert txs["payee_processing2_ada"]["status"] == "processing"
    assert await execution.poll(db.sessions, lambda: mock, older_than=timedelta(0)) == 1
    still = await world.get(f"/v1/payout_batches/{batch['id']}")
    assert still["transactions"][0]["status"] == "processing"  # first lookup: not yet
    assert await execution.poll(db.sessions, lambda: mock, older_than=timedelta(0)) == 1
    done = await world.get(f"/v1/payout_batches/{batch['id']}")
    assert done["status"] == "completed"
    assert done["transactions"][0]["status"] == "completed"
    paid = (await world.get("/v1/commissions?status=paid"))["data"]
    assert len(paid) == 2 and all(c["paid_at"] for c in paid)


async def test_status_of_a_payment_never_sent_is_none(mock: MockPayoutProvider) -> None:
    lookup = PayoutLookup("pot_x/send", "payee_success", Money.parse("1.00", "USD"))
    assert await mock.get_payment_status(lookup) is None


async def test_a_payee_is_at_the_install_s_payout_provider_and_only_there(
    world: World, mock: MockPayoutProvider
) -> None:
    affiliate = await world.affiliate("eve")
    base = f"/v1/affiliates/{affiliate['id']}/payees"
    assert (await world.post(base, {}, 201))["provider"] == "mock"
    refused = await world.client.post(base, json={"provider": "rise"}, headers=world.acme.auth)
    assert refused.status_code == 400, refused.text
    problem = refused.json()
    assert (problem["code"], problem["param"]) == ("invalid_request", "provider")
    assert "pays out through mock" in problem["detail"]
    assert [p["provider"] for p in (await world.get(base))["data"]] == ["mock"]


async def test_live_commissions_are_never_paid_by_the_mock(
    world: World, client: httpx.AsyncClient, db: Backend, settings: Settings
) -> None:
    live = World(client, await merchant(db.sessions, livemode=True))
    await payee(live, "liv", "payee_success_live")
    await payee(world, "tes", "payee_success_test")
    refused = await client.post("/v1/payout_batches", json={}, headers=live.acme.auth)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "provider_test_mode_only"
    assert (await live.get("/v1/payout_batches"))["data"] == []
    assert {c["status"] for c in (await live.get("/v1/commissions"))["data"]} == {"approved"}
    # the schedule: the live run is refused, the test-mode run beside it still goes
    made = await run_due(db.sessions, scheduled(settings), datetime(2026, 3, 4, 9, 5, tzinfo=UTC))
    assert [b.livemode for b in made] == [False]
    assert (await live.get("/v1/payout_batches"))["data"] == []


async def test_simulated_webhooks_settle_a_delayed_payout_once(
    world: World, db: Backend, mock: MockPayoutProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``payee_webhook<N>`` completes N seconds after it was accepted and says so by webhook:
    stored once per id like a provider's (a redelivery is a duplicate), applied by its job."""
    batch = await batch_of(world, ana="payee_webhook0_ana", bob="payee_success_bob")
    seen, txs = await execute(world, db, mock, batch["id"])
    assert txs["payee_webhook0_ana"]["status"] == "processing"
    assert txs["payee_success_bob"]["status"] == "completed"
    worker = Worker(db.sessions, registry=JOBS, schedules={})
    delivered = mock.webhooks_delivered
    monkeypatch.setattr(mock, "webhooks_delivered", lambda ids: None)  # died before marking
    assert await mock_events.deliver(db.engine, db.sessions, mock) == 2
    monkeypatch.setattr(mock, "webhooks_delivered", delivered)
    assert await mock_events.deliver(db.engine, db.sessions, mock) == 2  # delivered again
    assert await mock_events.deliver(db.engine, db.sessions, mock) == 0
    await worker.run_due()
    async with db.sessions() as s:
        events = (await s.scalars(select(InboundEvent).order_by(InboundEvent.event_id))).all()
        jobs = await s.scalar(
            select(func.count()).select_from(Job).where(Job.name == mock_events.APPLY_JOB)
        )
    assert sorted(e.event_type for e in events) == ["payment.completed", "payment.completed"]
    assert {e.status for e in events} == {"processed"} and jobs == 2  # one each, not four
    assert {e.account_id for e in events} == {world.acme.account_id}
    seen = await world.get(f"/v1/payout_batches/{batch['id']}")
    assert seen["status"] == "completed"
    assert {t["status"] for t in seen["transactions"]} == {"completed"}
    assert mock.ledger.paid_count() == 2  # the webhook paid nothing again
    paid = (await world.get("/v1/commissions"))["data"]
    assert {c["status"] for c in paid} == {"paid"}
    # reprocessing one runs the mock's job again (not pay-ins'), which changes nothing
    again = await world.post(f"/v1/inbound_events/{events[0].id}/reprocess", {}, 202)
    assert again["status"] == "received"
    await worker.run_due()
    async with db.sessions() as s:
        names = (
            await s.scalars(
                select(Job.name).where(Job.args["inbound_event_id"].as_string() == events[0].id)
            )
        ).all()
        assert (await s.get(InboundEvent, events[0].id)).status == "processed"  # type: ignore[union-attr]
    assert names == [mock_events.APPLY_JOB] * 2
    assert mock.ledger.paid_count() == 2


async def test_a_payout_completed_by_time_answers_processing_until_then(
    mock: MockPayoutProvider,
) -> None:
    request = BatchPayoutRequest(
        "b/1", (PayoutRequest("t/send", "payee_webhook600_x", Money(500, "USD")),)
    )
    [sent] = (await mock.send_batch_payment(request)).results
    assert sent.status == "processing"
    lookup = PayoutLookup("t/send", "payee_webhook600_x", Money(500, "USD"))
    assert (await mock.get_payment_status(lookup)).status == "processing"  # type: ignore[union-attr]
    assert mock.due_webhooks() == []  # due in ten minutes
