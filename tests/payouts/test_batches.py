"""Aggregation, validation with reasons, batching at PAYMENT_BATCH_SIZE, and cancel."""

from __future__ import annotations

from typing import Any

from tests.fakes.rise.server import RiseStandIn
from tests.payouts.conftest import World


async def earn(world: World, code: str, value: str, n: int, currency: str = "USD") -> None:
    """``n`` approved commissions of ``value`` (at 100 %) for affiliate ``code``."""
    for i in range(n):
        made = await world.post(
            "/v1/subscription_events",
            {
                "event_id": f"{code}-{currency}-{value}-{i}",
                "type": "new",
                "affiliate_code": code,
                "subscription_id": f"sub_{code}_{i}",
                "amount": {"value": value, "currency": currency},
                "occurred_at": "2026-01-27T10:00:00Z",
            },
            201,
        )
        await world.post(f"/v1/commissions/{made['commissions'][0]['id']}/approve", {})


def by_affiliate(items: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["affiliate_id"], i["amount"]["currency"]): i for i in items}


async def test_preview_pays_what_is_due_and_says_why_the_rest_waits(
    world: World, rise: RiseStandIn
) -> None:
    full = {"rate_bps": 10_000}
    ada = await world.affiliate("ada", **full)  # payable: 60.00 >= 50.00
    await world.payable_payee(rise, ada)
    await earn(world, "ada", "30.00", 2)
    await earn(world, "ada", "1000", 1, currency="JPY")  # Rise pays USD only
    low = await world.affiliate("low", **full)  # below its minimum
    await world.payable_payee(rise, low)
    await earn(world, "low", "10.00", 1)
    nopayee = await world.affiliate("nopayee", **full)
    await earn(world, "nopayee", "80.00", 1)
    kyc = await world.affiliate("kyc", **full)
    await world.post(f"/v1/affiliates/{kyc['id']}/payees", {}, 201)
    await earn(world, "kyc", "80.00", 1)
    gone = await world.affiliate("gone", **full)
    await world.payable_payee(rise, gone)
    await earn(world, "gone", "80.00", 1)
    await world.post(f"/v1/affiliates/{gone['id']}", {"status": "suspended"})
    pending = await world.post(  # pending commissions are not due
        "/v1/subscription_events",
        {
            "event_id": "p1", "type": "new", "affiliate_code": "ada", "subscription_id": "s",
            "amount": {"value": "99.00", "currency": "USD"}, "occurred_at": "2026-01-27T10:00:00Z",
        },
        201,
    )  # fmt: skip
    assert pending["commissions"][0]["status"] == "pending"

    preview = await world.get("/v1/payout_batches/preview")
    payable = by_affiliate(preview["payable"])
    assert list(payable) == [(ada["id"], "USD")]
    assert payable[(ada["id"], "USD")]["amount"]["value"] == "60.00"
    assert payable[(ada["id"], "USD")]["commission_count"] == 2
    held = {k: v["reasons"] for k, v in by_affiliate(preview["held_back"]).items()}
    assert held == {
        (ada["id"], "JPY"): ["currency_not_supported"],
        (low["id"], "USD"): ["below_minimum"],
        (nopayee["id"], "USD"): ["no_payee"],
        (kyc["id"], "USD"): ["payee_not_linked"],
        (gone["id"], "USD"): ["affiliate_suspended"],
    }


async def test_refunds_net_against_unpaid_and_negative_sums_carry_forward(
    world: World, rise: RiseStandIn
) -> None:
    ada = await world.affiliate(
        "ada", rate_bps=10_000, minimum_payout={"value": "1.00", "currency": "USD"}
    )
    await world.payable_payee(rise, ada)
    await earn(world, "ada", "30.00", 1)
    refund = {
        "event_id": "r1", "type": "refund", "affiliate_code": "ada", "subscription_id": "sub_ada_0",
        "amount": {"value": "10.00", "currency": "USD"}, "occurred_at": "2026-01-27T11:00:00Z",
    }  # fmt: skip
    await world.post("/v1/subscription_events", refund, 201)
    [item] = (await world.get("/v1/payout_batches/preview"))["payable"]
    assert item["amount"]["value"] == "20.00" and item["commission_count"] == 2
    [batch] = (await world.post("/v1/payout_batches", {}, 201))["data"]
    assert batch["total"]["value"] == "20.00"
    # paid out; a refund of the rest arrives afterwards: it waits as a negative sum
    await world.post(
        "/v1/subscription_events",
        {**refund, "event_id": "r2", "amount": {"value": "20.00", "currency": "USD"}},
        201,
    )
    preview = await world.get("/v1/payout_batches/preview")
    assert preview["payable"] == []
    assert preview["held_back"][0]["reasons"] == ["not_positive"]
    assert preview["held_back"][0]["amount"]["value"] == "-20.00"
    await earn(world, "ada", "50.00", 1)  # the next earnings pay it back first
    [item] = (await world.get("/v1/payout_batches/preview"))["payable"]
    assert item["amount"]["value"] == "30.00"


async def test_batches_split_at_the_batch_size_one_transaction_per_payee(
    world: World, rise: RiseStandIn, settings: Any
) -> None:
    settings.payment_batch_size = 2
    for code in ("a1", "a2", "a3"):
        affiliate = await world.affiliate(code, rate_bps=10_000)
        await world.payable_payee(rise, affiliate)
        await earn(world, code, "25.00", 3)
    made = (await world.post("/v1/payout_batches", {}, 201))["data"]
    assert [b["payment_count"] for b in made] == [2, 1]
    assert len({b["number"] for b in made}) == 2
    assert all(b["status"] == "queued" and b["provider"] == "rise" for b in made)
    transactions = [t for b in made for t in b["transactions"]]
    assert len({t["payee_id"] for t in transactions}) == 3
    assert all(t["amount"]["value"] == "75.00" and t["commission_count"] == 3 for t in transactions)
    queued = await world.get("/v1/commissions?status=queued&limit=100")
    assert len(queued["data"]) == 9
    assert {c["payout_batch_id"] for c in queued["data"]} == {b["id"] for b in made}
    again = (await world.post("/v1/payout_batches", {}, 201))["data"]
    assert again == []  # nothing is batched twice
    bodiless = await world.client.post("/v1/payout_batches", headers=world.acme.auth)
    assert bodiless.status_code == 201, bodiless.text  # the body is optional, like a refund's
    assert bodiless.json()["data"] == []

    cancelled = await world.post(f"/v1/payout_batches/{made[1]['id']}/cancel", {})
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]
    assert cancelled["transactions"][0]["status"] == "cancelled"
    twice = await world.client.post(
        f"/v1/payout_batches/{made[1]['id']}/cancel", headers=world.acme.auth
    )
    assert twice.status_code == 409 and twice.json()["code"] == "payout_batch_not_cancellable"
    [due] = (await world.get("/v1/payout_batches/preview"))["payable"]  # due again
    assert due["amount"]["value"] == "75.00"
    listed = await world.get("/v1/payout_batches")
    assert [b["id"] for b in listed["data"]] == [made[1]["id"], made[0]["id"]]
    assert (await world.get(f"/v1/payout_batches/{made[0]['id']}")) == made[0]
