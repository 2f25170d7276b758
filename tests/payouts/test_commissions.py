"""Subscription events in, commissions out: rates, tiers, recurring, adjustments, dedupe,
approval, and commissions from kassa's own payment events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from kassa.jobs.models import Event
from kassa.jobs.registry import JOBS
from kassa.jobs.worker import Worker
from kassa.payouts.models import Commission
from tests.conftest import Backend
from tests.factories import merchant
from tests.payins.conftest import pay
from tests.payouts.conftest import World

AT = "2026-01-27T10:00:00Z"


def sub_event(event_id: str, type_: str, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "affiliate_code": "ada",
        "subscription_id": "sub_1",
        "amount": {"value": value, "currency": "USD"},
        "occurred_at": AT,
        **extra,
    }


async def test_rates_tiers_and_recurring(world: World) -> None:
    await world.affiliate("ada", rate_bps=2500, tier_rates={"pro": 3333})
    new = await world.post("/v1/subscription_events", sub_event("e1", "new", "49.00"), 201)
    assert new["outcome"] == "earned"
    [commission] = new["commissions"]
    assert commission["kind"] == "new_subscription" and commission["status"] == "pending"
    assert commission["amount"] == {"value": "12.25", "currency": "USD"}
    # 33.33 % of 10.01 is 3.336333: rounded half up to the cent
    pro = await world.post(
        "/v1/subscription_events", sub_event("e2", "renewal", "10.01", tier="pro"), 201
    )
    assert pro["commissions"][0]["amount"]["value"] == "3.34"
    assert pro["commissions"][0]["rate_bps"] == 3333
    upgrade = await world.post(
        "/v1/subscription_events",
        sub_event("e3", "upgrade", "20.00", old_tier="basic", new_tier="pro"),
        201,
    )
    assert upgrade["commissions"][0]["kind"] == "upgrade"
    assert upgrade["commissions"][0]["amount"]["value"] == "6.67"
    no_tiers = await world.client.post(
        "/v1/subscription_events", json=sub_event("e4", "upgrade", "1.00"), headers=world.acme.auth
    )
    assert no_tiers.status_code == 400 and no_tiers.json()["code"] == "subscription_event_invalid"
    yen = await world.post(
        "/v1/subscription_events",
        {**sub_event("e5", "new", "999"), "amount": {"value": "999", "currency": "JPY"}},
        201,
    )
    assert yen["commissions"][0]["amount"] == {"value": "250", "currency": "JPY"}  # 249.75

    await world.affiliate("once", recurring=False)
    renewal = await world.post(
        "/v1/subscription_events",
        {**sub_event("e6", "renewal", "49.00"), "affiliate_code": "once"},
        201,
    )
    assert renewal["outcome"] == "not_recurring" and renewal["commissions"] == []
    cancel = await world.post("/v1/subscription_events", sub_event("e7", "cancellation", "0"), 201)
    assert cancel["outcome"] == "recorded" and cancel["commissions"] == []


async def test_one_commission_per_event_however_often_it_arrives(world: World, db: Backend) -> None:
    await world.affiliate("ada", rate_bps=2500)
    body = sub_event("e1", "new", "49.00")
    first = await world.post("/v1/subscription_events", body, 201)
    again = await world.post("/v1/subscription_events", body, 200)
    assert again == first
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Commission)) == 1
        created = await session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "commission.created")
        )
        assert created == 1
    unknown = await world.client.post(
        "/v1/subscription_events",
        json={**body, "event_id": "e2", "affiliate_code": "nobody"},
        headers=world.acme.auth,
    )
    assert unknown.status_code == 400 and unknown.json()["code"] == "affiliate_unknown"


async def test_refunds_and_chargebacks_adjust_what_was_earned(world: World) -> None:
    ada = await world.affiliate("ada", rate_bps=2500)
    await world.post("/v1/subscription_events", sub_event("e1", "new", "40.00"), 201)
    # the rate drops later: a refund takes back at the rate the sale earned with
    await world.post(f"/v1/affiliates/{ada['id']}", {"rate_bps": 1000})
    refund = await world.post("/v1/subscription_events", sub_event("e2", "refund", "10.00"), 201)
    [adjustment] = refund["commissions"]
    assert adjustment["kind"] == "adjustment" and adjustment["status"] == "approved"
    assert adjustment["amount"]["value"] == "-2.50" and adjustment["rate_bps"] == 2500
    # a chargeback of more than is left takes back only what is left (10.00 - 2.50)
    chargeback = await world.post(
        "/v1/subscription_events", sub_event("e3", "chargeback", "100.00"), 201
    )
    assert chargeback["commissions"][0]["amount"]["value"] == "-7.50"
    nothing = await world.post("/v1/subscription_events", sub_event("e4", "refund", "1.00"), 201)
    assert nothing["outcome"] == "nothing_to_adjust"
    # suspended affiliates earn nothing new
    await world.post(f"/v1/affiliates/{ada['id']}", {"status": "suspended"})
    held = await world.post("/v1/subscription_events", sub_event("e5", "renewal", "40.00"), 201)
    assert held["outcome"] == "affiliate_suspended" and held["commissions"] == []


async def test_approve_single_and_bulk(world: World) -> None:
    await world.affiliate("ada", rate_bps=2500)
    ids = []
    for n in range(4):
        made = await world.post("/v1/subscription_events", sub_event(f"e{n}", "new", "10.00"), 201)
        ids.append(made["commissions"][0]["id"])
    one = await world.post(f"/v1/commissions/{ids[0]}/approve", {})
    assert one["status"] == "approved" and one["approved_at"]
    twice = await world.client.post(f"/v1/commissions/{ids[0]}/approve", headers=world.acme.auth)
    assert twice.status_code == 409 and twice.json()["code"] == "commission_not_approvable"
    bulk = await world.post("/v1/commissions/approve", {"ids": ids[:2]})
    assert bulk["approved"] == [ids[1]] and bulk["skipped"] == [ids[0]]
    nothing = await world.client.post("/v1/commissions/approve", json={}, headers=world.acme.auth)
    assert nothing.status_code == 400 and nothing.json()["code"] == "parameter_missing"
    rest = await world.post("/v1/commissions/approve", {"created_before": "2999-01-01T00:00:00Z"})
    assert sorted(rest["approved"]) == sorted(ids[2:])
    listed = await world.get("/v1/commissions?status=approved")
    assert len(listed["data"]) == 4
    assert (await world.get(f"/v1/commissions/{ids[3]}"))["status"] == "approved"


async def test_bulk_approval_with_an_empty_filter_approves_nothing(world: World) -> None:
    """An empty affiliate_id is no filter forgotten: it is refused, never read as 'every
    pending commission of the account'."""
    await world.affiliate("ada", rate_bps=2500)
    made = await world.post("/v1/subscription_events", sub_event("e1", "new", "10.00"), 201)
    for body in ({"affiliate_id": ""}, {"affiliate_id": "", "ids": None}):
        refused = await world.client.post(
            "/v1/commissions/approve", json=body, headers=world.acme.auth
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["param"] == "affiliate_id"
    commission = await world.get(f"/v1/commissions/{made['commissions'][0]['id']}")
    assert commission["status"] == "pending"


async def test_a_filter_naming_another_accounts_affiliate_is_404(world: World, db: Backend) -> None:
    """Body ids of another account are 404, as path ids are (docs/api.md), filters too."""
    theirs = await world.affiliate("ada", rate_bps=2500)
    await world.post("/v1/subscription_events", sub_event("e1", "new", "10.00"), 201)
    stranger = World(world.client, await merchant(db.sessions))
    await stranger.affiliate("bob")
    for path, body, param in (
        ("/v1/commissions/approve", {"affiliate_id": theirs["id"]}, "affiliate_id"),
        ("/v1/payout_batches", {"affiliate_ids": [theirs["id"]]}, "affiliate_ids"),
    ):
        refused = await world.client.post(path, json=body, headers=stranger.acme.auth)
        assert refused.status_code == 404, refused.text
        assert (refused.json()["code"], refused.json()["param"]) == ("resource_missing", param)
    [commission] = (await world.get("/v1/commissions"))["data"]
    assert commission["status"] == "pending"


async def test_payments_naming_an_affiliate_earn_and_their_refunds_adjust(
    world: World, db: Backend
) -> None:
    await world.affiliate("ada", rate_bps=2000)
    paid = await pay(world.client, world.acme.auth, "50.00", metadata={"affiliate_code": "ada"})
    assert paid.status_code == 201, paid.text
    await pay(world.client, world.acme.auth, "70.00")  # no affiliate: no commission
    worker = Worker(db.sessions, registry=JOBS, schedules={})
    await worker.run_due()
    await worker.run_due()  # the same event delivered again changes nothing
    listed = (await world.get("/v1/commissions"))["data"]
    assert [(c["kind"], c["amount"]["value"]) for c in listed] == [("one_time", "10.00")]
    payment_id = paid.json()["id"]
    for value in ("5.00", "15.00"):
        refunded = await world.client.post(
            f"/v1/payments/{payment_id}/refund",
            json={"amount": {"value": value, "currency": "USD"}},
            headers=world.acme.auth,
        )
        assert refunded.status_code in (200, 201), refunded.text
        await worker.run_due()
    amounts = [c["amount"]["value"] for c in (await world.get("/v1/commissions"))["data"]]
    assert amounts == ["-3.00", "-1.00", "10.00"]  # 20 % of each refund, newest first


async def test_the_same_event_racing_itself_earns_once(world: World, db: Backend) -> None:
    import asyncio

    await world.affiliate("ada", rate_bps=2500)
    body = sub_event("e1", "new", "49.00")
    answers = await asyncio.gather(
        *(
            world.client.post("/v1/subscription_events", json=body, headers=world.acme.auth)
            for _ in range(4)
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({a.json()["commissions"][0]["id"] for a in answers}) == 1
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Commission)) == 1


async def test_commissions_past_the_hold_period_are_approved(world: World, db: Backend) -> None:
    from datetime import timedelta

    from kassa.core import clock
    from kassa.core.db import transaction
    from kassa.payouts.approval import approve_held

    await world.affiliate("ada", rate_bps=2500)
    made = await world.post("/v1/subscription_events", sub_event("e1", "new", "10.00"), 201)
    async with transaction(db.sessions) as session:
        assert await approve_held(session, hold_hours=24) == 0  # still held
    real = clock.now()
    previous = clock.install(clock.FrozenClock(real + timedelta(hours=25)))
    try:
        async with transaction(db.sessions) as session:
            assert await approve_held(session, hold_hours=24) == 1
    finally:
        clock.install(previous)
    commission = await world.get(f"/v1/commissions/{made['commissions'][0]['id']}")
    assert commission["status"] == "approved"


async def test_times_without_a_zone_are_refused_not_a_server_error(world: World) -> None:
    await world.affiliate("ada", rate_bps=2500)
    event = {**sub_event("naive", "new", "10.00"), "occurred_at": "2026-11-27T10:00:00"}
    naive = await world.client.post("/v1/subscription_events", json=event, headers=world.acme.auth)
    assert naive.status_code == 400, naive.text
    assert naive.json()["param"] == "occurred_at"
    bulk = await world.client.post(
        "/v1/commissions/approve",
        json={"created_before": "2030-01-01T00:00:00"},
        headers=world.acme.auth,
    )
    assert bulk.status_code == 400 and bulk.json()["param"] == "created_before"
