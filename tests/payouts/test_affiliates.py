"""Affiliates and payees through the API, invitations and KYC through the Rise stand-in."""

from __future__ import annotations

from sqlalchemy import select

from kassa.payouts.models import Payee
from tests.conftest import Backend
from tests.factories import merchant
from tests.fakes.rise.server import RiseStandIn
from tests.payouts.conftest import World


async def test_affiliate_create_list_retrieve_update(world: World, db: Backend) -> None:
    ada = await world.affiliate(
        "ada", rate_bps=2500, tier_rates={"pro": 3000}, schedule="weekly", schedule_time="09:30"
    )
    assert ada["id"].startswith("aff_") and ada["object"] == "affiliate"
    assert ada["rate_bps"] == 2500 and ada["status"] == "active"
    assert ada["minimum_payout"] == {"value": "50.00", "currency": "USD"}  # the install default
    taken = await world.client.post(
        "/v1/affiliates",
        json={"code": "ada", "name": "Other", "email": "o@example.test"},
        headers=world.acme.auth,
    )
    assert taken.status_code == 409 and taken.json()["code"] == "affiliate_code_taken"
    # codes are unique per account: another merchant may use the same one
    other = await merchant(db.sessions, name="Other")
    elsewhere = await world.client.post(
        "/v1/affiliates",
        json={"code": "ada", "name": "Ada", "email": "a@example.test"},
        headers=other.auth,
    )
    assert elsewhere.status_code == 201
    bad_rate = await world.client.post(
        "/v1/affiliates",
        json={"code": "x", "name": "X", "email": "x@example.test", "rate_bps": 10_001},
        headers=world.acme.auth,
    )
    assert bad_rate.status_code == 400
    bad_zone = await world.client.post(
        "/v1/affiliates",
        json={"code": "y", "name": "Y", "email": "y@example.test", "schedule_timezone": "Mars/X"},
        headers=world.acme.auth,
    )
    assert bad_zone.status_code == 400 and bad_zone.json()["param"] == "schedule_timezone"

    updated = await world.post(
        f"/v1/affiliates/{ada['id']}",
        {"status": "suspended", "minimum_payout": {"value": "20.00", "currency": "USD"}},
    )
    assert updated["status"] == "suspended" and updated["rate_bps"] == 2500
    assert updated["minimum_payout"]["value"] == "20.00"
    assert await world.get(f"/v1/affiliates/{ada['id']}") == updated
    await world.affiliate("bob")
    listed = await world.get("/v1/affiliates?limit=1")
    assert len(listed["data"]) == 1 and listed["has_more"] is True
    by_code = await world.get("/v1/affiliates?code=ada")
    assert [a["id"] for a in by_code["data"]] == [ada["id"]]
    foreign = await world.client.get(f"/v1/affiliates/{ada['id']}", headers=other.auth)
    assert foreign.status_code == 404


async def test_invite_once_then_kyc_from_rise(world: World, rise: RiseStandIn, db: Backend) -> None:
    ada = await world.affiliate("ada")
    payee = await world.post(f"/v1/affiliates/{ada['id']}/payees", {}, 201)
    assert payee["id"].startswith("pye_") and payee["email"] == "ada@example.test"
    assert payee["kyc_status"] == "pending" and payee["invite_status"] == "none"
    path = f"/v1/affiliates/{ada['id']}/payees/{payee['id']}"
    not_linked = await world.client.post(f"{path}/sync", headers=world.acme.auth)
    assert not_linked.status_code == 409 and not_linked.json()["code"] == "payee_not_linked"

    invited = await world.post(f"{path}/invite", {})
    assert invited["invite_status"] == "sent" and invited["invitation_sent_at"]
    assert [i.email for i in rise.invites] == ["ada@example.test"]
    again = await world.post(f"{path}/invite", {})
    assert again["invite_status"] == "sent"
    assert len(rise.invites) == 1  # invited once

    account = await rise.accept_invite("ada@example.test", kyc_status="pending")
    async with db.sessions() as session:  # the RiseID arrives with the accepted invitation
        row = await session.scalar(select(Payee).where(Payee.id == payee["id"]))
        assert row is not None
        row.provider_payee_id = account.riseid
        await session.commit()
    synced = await world.post(f"{path}/sync", {})
    assert synced["kyc_status"] == "submitted" and synced["invite_status"] == "accepted"
    account.kyc_status = "approved"
    assert (await world.post(f"{path}/sync", {}))["kyc_status"] == "approved"
    listed = await world.get(f"/v1/affiliates/{ada['id']}/payees")
    assert [p["id"] for p in listed["data"]] == [payee["id"]]


async def test_an_invitation_rise_did_not_answer_is_sent_again_with_the_same_key(
    world: World, rise: RiseStandIn, db: Backend
) -> None:
    ada = await world.affiliate("ada")
    payee = await world.post(f"/v1/affiliates/{ada['id']}/payees", {}, 201)
    path = f"/v1/affiliates/{ada['id']}/payees/{payee['id']}/invite"
    rise.fail("POST", "/v2/riseid/invite", 503, times=1)
    down = await world.client.post(path, headers=world.acme.auth)
    assert down.status_code == 503 and down.json()["code"] == "payout_provider_unavailable"
    async with db.sessions() as session:  # the intent was committed before the call
        row = await session.scalar(select(Payee).where(Payee.id == payee["id"]))
        assert row is not None and row.invite_status == "sending"
        key = row.invite_key
    invited = await world.post(path, {})
    assert invited["invite_status"] == "sent"
    async with db.sessions() as session:
        row = await session.scalar(select(Payee).where(Payee.id == payee["id"]))
        assert row is not None and row.invite_key == key
    assert len(rise.invites) == 1


async def test_a_provider_account_is_one_payee(world: World, rise: RiseStandIn) -> None:
    ada = await world.affiliate("ada")
    account = rise.add_payee("ada@example.test")
    body = {"provider_payee_id": account.riseid}
    await world.post(f"/v1/affiliates/{ada['id']}/payees", body, 201)
    twice = await world.client.post(
        f"/v1/affiliates/{ada['id']}/payees", json=body, headers=world.acme.auth
    )
    assert twice.status_code == 409 and twice.json()["code"] == "payee_taken"
