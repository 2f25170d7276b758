"""An address belongs to one account: another account cannot claim it in the other mode
either (it would then see, and could assign, every transfer paying its owner)."""

from __future__ import annotations

from kassa.chain.models import ReceivingAddress
from kassa.core.db import transaction
from tests.security.world import World


async def test_another_account_cannot_claim_an_address_in_the_other_mode(world: World) -> None:
    victim = world.sides[("victim", False)]
    async with transaction(world.db.sessions) as session:
        row = await session.get(ReceivingAddress, victim.objects["receiving_address"])
        assert row is not None
        address = row.address
    transfer = await world.make(victim, "chain_transfer")
    for livemode in (True, False):
        hostile = world.sides[("hostile", livemode)]
        claimed = await world.client.post(
            "/v1/receiving_addresses",
            headers=hostile.auth,
            json={"chain": "local", "address": address},
        )
        assert claimed.status_code == 409, claimed.text
        assert claimed.json()["code"] == "receiving_address_taken"
        seen = await world.client.get(f"/v1/chain_transfers/{transfer}", headers=hostile.auth)
        assert seen.status_code == 404, seen.text
        listed = await world.client.get("/v1/chain_transfers", headers=hostile.auth)
        assert transfer not in {t["id"] for t in listed.json()["data"]}
