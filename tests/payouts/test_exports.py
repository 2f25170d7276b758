"""Commissions and payouts as CSV for accounting: the API's exports and `kassa payouts export`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kassa.core import clock
from kassa.core.clock import FrozenClock
from kassa.payouts import exports
from tests.conftest import Backend
from tests.core.test_csv_cells import unquoted_row_starts
from tests.fakes.rise.server import RiseStandIn
from tests.helpers import kassa_env, run_kassa
from tests.payouts.conftest import World

JAN = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def _event(n: int, code: str, value: str, currency: str = "USD", **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"evt_{code}_{n}",
        "type": "new",
        "affiliate_code": code,
        "subscription_id": f"sub_{code}_{n}",
        "amount": {"value": value, "currency": currency},
        "occurred_at": "2026-01-10T10:00:00Z",
        **extra,
    }


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def frozen() -> Any:
    frozen = FrozenClock(JAN)
    previous = clock.install(frozen)
    yield frozen
    clock.install(previous)


async def test_a_carriage_return_in_a_cell_cannot_start_a_row(world: World) -> None:
    """A bare CR ends a row in spreadsheets: a subscription id holding one is quoted, so it
    can neither forge a row nor start one with a formula."""
    await world.affiliate("ada", rate_bps=2500)
    evil = "sub\r=1+1"
    await world.post(
        "/v1/subscription_events", _event(1, "ada", "10.00", subscription_id=evil), 201
    )
    response = await world.client.get("/v1/commissions/export", headers=world.acme.auth)
    assert response.status_code == 200
    for start in unquoted_row_starts(response.text):
        assert start not in "=+-@", response.text
    [row] = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert row["subscription_id"] == evil


async def test_commissions_export_amounts_filters_and_injection(
    world: World, frozen: FrozenClock
) -> None:
    ada = await world.affiliate("ada", rate_bps=2500)
    bob = await world.affiliate("bob")
    # a subscription id a spreadsheet would run as a formula
    evil = _event(1, "ada", "10.01", subscription_id='=HYPERLINK("http://x","y")')
    first = await world.post("/v1/subscription_events", evil, 201)
    frozen.advance(timedelta(days=1))
    await world.post("/v1/subscription_events", _event(2, "ada", "999", "JPY"), 201)
    refund = {**_event(3, "ada", "10.00"), "type": "refund", "subscription_id": evil["subscription_id"]}  # fmt: skip
    await world.post("/v1/subscription_events", refund, 201)
    frozen.advance(timedelta(days=1))
    await world.post("/v1/subscription_events", _event(4, "bob", "100.00"), 201)

    response = await world.client.get("/v1/commissions/export", headers=world.acme.auth)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.splitlines()[0] == ",".join(exports.COMMISSION_COLUMNS)
    rows = _rows(response.text)
    assert len(rows) == 4
    by_sub = {(r["subscription_id"], r["kind"]): r for r in rows}
    earned = by_sub['\'=HYPERLINK("http://x","y")', "new_subscription"]
    assert earned["commission_id"] == first["commissions"][0]["id"]
    assert (earned["amount"], earned["base_amount"], earned["currency"]) == ("2.50", "10.01", "USD")
    assert earned["affiliate_code"] == "ada" and earned["rate_bps"] == "2500"
    yen = by_sub["sub_ada_2", "new_subscription"]
    assert (yen["amount"], yen["currency"]) == ("250", "JPY")  # 0 decimals for yen
    adjustment = by_sub['\'=HYPERLINK("http://x","y")', "adjustment"]
    assert adjustment["amount"] == "-2.50"  # a negative number stays a number
    assert earned["created_at"] == JAN.isoformat()

    async def export(**params: str) -> list[dict[str, str]]:
        got = await world.client.get(
            "/v1/commissions/export", headers=world.acme.auth, params=params
        )
        assert got.status_code == 200, got.text
        return _rows(got.text)

    day2 = (JAN + timedelta(days=1)).isoformat()
    day3 = (JAN + timedelta(days=2)).isoformat()
    assert {r["subscription_id"] for r in await export(created_gte=day2, created_lt=day3)} == {
        "sub_ada_2", "'=HYPERLINK(\"http://x\",\"y\")",
    }  # fmt: skip
    assert {r["affiliate_id"] for r in await export(affiliate_id=bob["id"])} == {bob["id"]}
    approved = await export(status="approved")
    assert [r["kind"] for r in approved] == ["adjustment"]  # adjustments are approved at once
    assert await export(affiliate_id="aff_00000000000000000000000000") == []
    assert ada["id"] in {r["affiliate_id"] for r in await export()}

    for bad in ({"created_gte": "2026-01-10T00:00:00"}, {"created_lt": "2026-01-10"},
                {"status": "sent"}):  # fmt: skip
        refused = await world.client.get(
            "/v1/commissions/export", headers=world.acme.auth, params=bad
        )
        assert refused.status_code == 400, (bad, refused.text)
        assert refused.json()["param"] == next(iter(bad))


async def test_exports_stream_every_row_once_across_pages(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "PAGE", 3)
    await world.affiliate("ada")
    made = set()
    for n in range(8):
        event = await world.post("/v1/subscription_events", _event(n, "ada", "20.00"), 201)
        made.add(event["commissions"][0]["id"])
    rows = _rows((await world.client.get("/v1/commissions/export", headers=world.acme.auth)).text)
    assert [r["commission_id"] for r in rows] == sorted(made)  # oldest first, each once


async def test_payouts_export(world: World, rise: RiseStandIn, db: Backend, tmp_path: Path) -> None:
    ada = await world.affiliate("ada")
    bob = await world.affiliate("bob")
    ids = []
    for who in (ada, bob):
        await world.payable_payee(rise, who)
        made = await world.post("/v1/subscription_events", _event(1, who["code"], "1000.00"), 201)
        ids.append(made["commissions"][0]["id"])
    await world.post("/v1/commissions/approve", {"ids": ids})
    batch = (await world.post("/v1/payout_batches", {}, 201))["data"][0]
    response = await world.client.get("/v1/payouts/export", headers=world.acme.auth)
    assert response.status_code == 200
    assert response.text.splitlines()[0] == ",".join(exports.PAYOUT_COLUMNS)
    rows = _rows(response.text)
    assert {r["payout_id"] for r in rows} == {t["id"] for t in batch["transactions"]}
    row = next(r for r in rows if r["affiliate_id"] == ada["id"])
    assert (row["amount"], row["currency"], row["status"]) == ("100.00", "USD", "pending")
    assert (row["payout_batch_id"], row["batch_number"]) == (batch["id"], batch["number"])
    assert row["affiliate_code"] == "ada" and row["commission_count"] == "1"
    only_bob = await world.client.get(
        "/v1/payouts/export", headers=world.acme.auth, params={"affiliate_id": bob["id"]}
    )
    assert [r["affiliate_id"] for r in _rows(only_bob.text)] == [bob["id"]]
    none_yet = await world.client.get(
        "/v1/payouts/export", headers=world.acme.auth, params={"status": "completed"}
    )
    assert _rows(none_yet.text) == []

    # the same rows from the CLI, into a file
    env = kassa_env(
        KASSA_DATABASE_URL=db.url, KASSA_VAR_DIR=str(tmp_path), KASSA_SECRET_KEY="s" * 40
    )
    out = tmp_path / "payouts.csv"
    ran = run_kassa(
        "payouts", "export", "payouts", "--account", world.acme.account_id,
        "--output", str(out), env=env,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert out.read_text() == response.text
    commissions = run_kassa(
        "payouts", "export", "commissions", "--account", world.acme.account_id,
        "--affiliate", ada["id"], "--from", "2020-01-01T00:00:00Z", env=env,
    )  # fmt: skip
    assert commissions.returncode == 0, commissions.stderr
    assert [r["commission_id"] for r in _rows(commissions.stdout)] == [ids[0]]
    zoneless = run_kassa(
        "payouts", "export", "commissions", "--account", world.acme.account_id,
        "--from", "2026-01-01T00:00:00", env=env,
    )  # fmt: skip
    assert zoneless.returncode != 0 and "zone" in zoneless.stderr
