"""Transfers no session claimed, assigned by hand on a real EVM node: listed for the merchant,
assigned to a session that then settles as usual (confirming, completed at the threshold,
partial and exact amounts summed), refused for another account's ids, a closed session, a
session paid another way, and a transfer re-orged away; and the checkout URL in events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from kassa.core.audit import AuditEntry
from kassa.core.settings import reset_settings_cache
from tests.chain import test_sessions
from tests.chain.test_sessions import CONFIRMATIONS, World
from tests.factories import merchant

world = test_sessions.world  # the same world: API, anvil, monitor and worker


async def _unmatched(w: World, **params: Any) -> list[dict[str, Any]]:
    response = await w.http.get(
        "/v1/chain_transfers", params={"matched": "false", **params}, headers=w.acme.auth
    )
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def test_an_unmatched_transfer_is_assigned_and_the_session_completes(world: World) -> None:
    w = world
    order = await w.session("10.00")
    tx = await w.pay(9_000_000)  # matches no exact amount: unmatched
    await w.settle()
    [seen] = await _unmatched(w)
    assert (seen["tx_hash"], seen["value"], seen["value_text"]) == (tx, "9000000", "9.000000")
    assert seen["session_id"] is None and seen["status"] == "seen"
    assert (await w.get(f"/chain_transfers/{seen['id']}")).json()["id"] == seen["id"]

    # Another account sees none of it, and cannot assign it to its own session or ours.
    other = await merchant(w.db.sessions, "Other")
    added = await w.post(
        "/receiving_addresses", other, chain="local", address=w.dev.node.accounts[4]
    )
    assert added.status_code == 201, added.text
    theirs = (
        await w.post("/payment_sessions", other, amount={"value": "1.00", "currency": "USD"})
    ).json()
    listed = await w.http.get("/v1/chain_transfers", headers=other.auth)
    assert listed.json()["data"] == []
    assert (await w.get(f"/chain_transfers/{seen['id']}", other)).status_code == 404
    for who, session_id in ((other, order["id"]), (other, theirs["id"]), (w.acme, theirs["id"])):
        refused = await w.post(
            f"/chain_transfers/{seen['id']}/assign", who, payment_session=session_id
        )
        assert refused.status_code == 404, refused.text
        assert refused.json()["code"] == "resource_missing"

    assigned = await w.post(f"/chain_transfers/{seen['id']}/assign", payment_session=order["id"])
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["session_id"] == order["id"]
    assert await _unmatched(w) == []
    partial = (await w.get(f"/payment_sessions/{order['id']}")).json()
    assert (partial["status"], partial["outcome"]) == ("confirming", "paid_partial")
    assert [t["tx_hash"] for t in partial["transfers"]] == [tx]
    assert len(await w.events("payment_session.confirming")) == 1

    # The rest comes in another transfer, also unmatched: assigned with an idempotency key.
    rest_tx = await w.pay(1_000_000)
    await w.settle()
    [rest] = await _unmatched(w)
    key = {**w.acme.auth, "Idempotency-Key": "assign-rest-1"}
    answers = [
        await w.http.post(
            f"/v1/chain_transfers/{rest['id']}/assign",
            json={"payment_session": order["id"]},
            headers=key,
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    await w.dev.node.mine(CONFIRMATIONS)
    await w.settle()
    done = (await w.get(f"/payment_sessions/{order['id']}")).json()
    assert (done["status"], done["outcome"]) == ("completed", "paid")
    assert {t["tx_hash"] for t in done["transfers"]} == {tx, rest_tx}
    [completed] = await w.events("payment_session.completed")
    assert completed.data["id"] == order["id"]
    async with w.db.sessions() as s:
        audits = list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "chain_transfer.assign"))
        )
    assert sorted(a.object_id for a in audits) == sorted([seen["id"], rest["id"]])
    assert all(a.after and a.after["payment_session"] == order["id"] for a in audits)

    # Bound transfers are listed as matched, and cannot move to another session.
    matched = await w.http.get(
        "/v1/chain_transfers", params={"matched": "true"}, headers=w.acme.auth
    )
    assert {t["id"] for t in matched.json()["data"]} == {seen["id"], rest["id"]}
    another = await w.session("1.00")
    moved = await w.post(f"/chain_transfers/{seen['id']}/assign", payment_session=another["id"])
    assert moved.status_code == 409 and moved.json()["code"] == "transfer_already_assigned"

    # A completed session takes no more transfers.
    await w.pay(123)
    await w.settle()
    [extra] = await _unmatched(w)
    closed = await w.post(f"/chain_transfers/{extra['id']}/assign", payment_session=order["id"])
    assert closed.status_code == 400 and closed.json()["code"] == "session_not_open"


async def test_an_unmatched_transfer_is_announced_once_to_the_accounts_watching(
    world: World,
) -> None:
    w = world
    order = await w.session("3.00")
    await w.pay(3_500_000)  # no session asks for 3.50: unmatched
    [quote] = order["quotes"]
    await w.pay(quote["amount"])  # the exact amount: bound, never announced
    await w.settle()
    await w.dev.node.mine(1)
    await w.settle()  # more confirmations: no second announcement
    [seen] = await _unmatched(w)
    [event] = await w.events("chain_transfer.unmatched")
    assert event.data["id"] == seen["id"] and event.data["session_id"] is None
    assert event.data["value_text"] == "3.500000"
    assert (event.account_id, event.livemode) == (w.acme.account_id, False)


async def test_assignments_that_do_not_fit_are_refused(world: World) -> None:
    w = world
    order = await w.session("4.00")  # quoted to the first address
    second = w.dev.node.accounts[3]
    added = await w.post("/receiving_addresses", chain="local", address=second)
    assert added.status_code == 201, added.text
    await w.pay(4_000_000, to=second)
    await w.settle()
    [elsewhere] = await _unmatched(w)
    wrong = await w.post(f"/chain_transfers/{elsewhere['id']}/assign", payment_session=order["id"])
    assert wrong.status_code == 400 and wrong.json()["code"] == "transfer_session_mismatch"

    # A session whose exact amount paid it in full (still confirming) takes no other one.
    paid = await w.session("4.00")
    [quote] = paid["quotes"]
    await w.pay(quote["amount"], to=quote["to_address"])
    await w.pay(777, to=quote["to_address"])
    await w.settle()
    odd = next(t for t in await _unmatched(w) if t["value"] == "777")
    full = await w.post(f"/chain_transfers/{odd['id']}/assign", payment_session=paid["id"])
    assert full.status_code == 409 and full.json()["code"] == "session_already_paid", full.text

    # A transfer re-orged away pays nothing.
    snapshot = await w.dev.node.rpc.call("evm_snapshot")
    await w.pay(555)
    await w.settle()
    gone = next(t for t in await _unmatched(w) if t["value"] == "555")
    await w.dev.node.rpc.call("evm_revert", snapshot)
    await w.dev.node.mine(CONFIRMATIONS + 2)
    await w.settle()
    assert (await w.get(f"/chain_transfers/{gone['id']}")).json()["status"] == "reorged"
    reorged = await w.post(f"/chain_transfers/{gone['id']}/assign", payment_session=order["id"])
    assert reorged.status_code == 409 and reorged.json()["code"] == "transfer_reorged"
    missing = await w.post("/chain_transfers/ctr_nope/assign", payment_session=order["id"])
    assert missing.status_code == 404


async def test_session_events_carry_the_checkout_url_the_api_returns(world: World) -> None:
    created = await world.session("2.50")
    assert created["checkout_url"].endswith(f"/checkout/{created['id']}")
    [event] = await world.events("payment_session.created")
    assert event.data["checkout_url"] == created["checkout_url"]
    await world.pay(created["quotes"][0]["amount"])
    await world.dev.node.mine(CONFIRMATIONS)
    await world.settle()
    [completed] = await world.events("payment_session.completed")
    assert completed.data["checkout_url"] == created["checkout_url"]


async def test_the_cli_lists_and_assigns_unmatched_transfers(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kassa.cli import app

    w = world
    chains = {
        "local": {
            "chain_id": w.dev.node.chain_id,
            "rpc_urls": [w.dev.node.url],
            "confirmations": CONFIRMATIONS,
            "tokens": {"USDC": {"address": w.dev.token, "decimals": 6}},
        }
    }
    monkeypatch.setenv("KASSA_DATABASE_URL", w.db.url)
    monkeypatch.setenv("KASSA_VAR_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("KASSA_SECRET_KEY", "test-secret-" + "x" * 40)
    monkeypatch.setenv("KASSA_CHAINS", json.dumps(chains))
    reset_settings_cache()
    cli = CliRunner()

    async def kassa(*args: str) -> tuple[int, str]:
        result = await asyncio.to_thread(cli.invoke, app, list(args))
        return result.exit_code, result.output

    try:
        order = await w.session("6.00")
        tx = await w.pay(6_500_000)
        await w.settle()
        code, out = await kassa("chain", "transfers", "list", "--account", w.acme.account_id)
        assert code == 0, out
        assert "6.500000 USDC" in out and "unmatched" in out and tx in out
        transfer_id = out.split()[0]
        code, out = await kassa(
            "chain", "transfers", "assign", transfer_id,
            "--session", order["id"], "--account", w.acme.account_id,
        )  # fmt: skip
        assert code == 0 and f"{transfer_id} assigned to {order['id']}" in out, out
        code, out = await kassa("chain", "transfers", "list", "--account", w.acme.account_id)
        assert (code, out.strip()) == (0, "no unmatched transfers")
        other = await merchant(w.db.sessions, "Other")
        code, out = await kassa(
            "chain", "transfers", "assign", transfer_id,
            "--session", order["id"], "--account", other.account_id,
        )  # fmt: skip
        assert code == 1 and "resource_missing" in out, out
        await w.dev.node.mine(CONFIRMATIONS)
        await w.settle()
        done = (await w.get(f"/payment_sessions/{order['id']}")).json()
        assert (done["status"], done["outcome"]) == ("completed", "paid_over")
    finally:
        monkeypatch.undo()
        reset_settings_cache()
