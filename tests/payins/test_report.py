"""The reconciliation report compares kassa with what the provider actually did, asked by the
provider's id or the charge's idempotency key: one test per kind of row."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from kassa.api.app import create_app
from kassa.core import clock
from kassa.core.db import transaction
from kassa.core.money import Money
from kassa.core.settings import Settings
from kassa.payins.create_payment import NewPayment, create_and_confirm, intend
from kassa.payins.models import Payment
from kassa.payins.reconcile import reconcile
from kassa.payins.report import DIFFERENCES
from kassa.providers.breakers import CallScope
from kassa.providers.mock import MockLedger, MockProvider
from kassa.providers.registry import ProviderRegistry, build_registry
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.helpers import ROOT
from tests.openapi_conformance import api_transport
from tests.payins.conftest import pay


@pytest.fixture
async def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def app_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = api_transport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as c,
    ):
        yield c


async def _rows(client: httpx.AsyncClient, m: Merchant) -> dict[str, dict[str, str]]:
    day = clock.now().date().isoformat()
    response = await client.get(f"/v1/reports/reconciliation?date={day}", headers=m.auth)
    assert response.status_code == 200
    return {r["payment_id"]: r for r in csv.DictReader(io.StringIO(response.text))}


async def _tamper(db: Backend, payment_id: str, **values: Any) -> None:
    """A bug or a hand edit: kassa's record now disagrees with the provider's."""
    async with transaction(db.sessions) as s:
        await s.execute(update(Payment).where(Payment.id == payment_id).values(**values))


def _sides(row: dict[str, str]) -> tuple[str, ...]:
    return (
        row["kassa_status"],
        row["provider_status"],
        row["kassa_captured"],
        row["provider_captured"],
        row["kassa_refunded"],
        row["provider_refunded"],
        row["difference"],
    )


async def test_a_payment_both_sides_agree_on(client: httpx.AsyncClient, db: Backend) -> None:
    m = await merchant(db.sessions)
    paid = (await pay(client, m.auth)).json()
    row = (await _rows(client, m))[paid["id"]]
    assert _sides(row) == ("succeeded", "succeeded", "100.00", "100.00", "0.00", "0.00", "")
    assert (row["kassa_amount"], row["provider_amount"]) == ("100.00", "100.00")
    assert row["provider_payment_id"] == paid["provider_payment_id"]


async def test_a_payment_never_sent_is_not_sent_never_captured(
    client: httpx.AsyncClient, db: Backend, tmp_path: Path
) -> None:
    """Its intent was written, then nothing reached the provider (the process died):
    reconciliation failed it, and the provider has no record, whatever its token."""
    m = await merchant(db.sessions)
    registry = build_registry(db.settings(tmp_path))
    payment = await intend(
        db.sessions,
        new=NewPayment(m.account_id, False, Money(100, "USD"), payment_method="pm_card_visa"),
        registry=registry,
    )
    await reconcile(db.sessions, registry, older_than=timedelta(0))
    row = (await _rows(client, m))[payment.id]
    assert _sides(row) == ("failed", "not_sent", "0.00", "0.00", "0.00", "0.00", "")
    refused = (await pay(client, m.auth, token="pm_card_invalidPayee")).json()["payment"]
    assert (await _rows(client, m))[refused["id"]]["provider_status"] == "not_sent"


async def test_a_status_kassa_got_wrong_is_a_status_difference(
    client: httpx.AsyncClient, db: Backend
) -> None:
    m = await merchant(db.sessions)
    paid = (await pay(client, m.auth)).json()
    await _tamper(db, paid["id"], status="failed")
    row = (await _rows(client, m))[paid["id"]]
    assert (row["kassa_status"], row["provider_status"], row["difference"]) == (
        "failed",
        "succeeded",
        "status",
    )


async def test_amounts_that_differ_are_named(client: httpx.AsyncClient, db: Backend) -> None:
    m = await merchant(db.sessions)
    amount, captured, refunded = [(await pay(client, m.auth)).json()["id"] for _ in range(3)]
    await _tamper(db, amount, amount=9999)
    await _tamper(db, captured, amount_captured=1)
    await _tamper(db, refunded, amount_refunded=500, status="partially_refunded")
    rows = await _rows(client, m)
    assert rows[amount]["difference"] == "amount"
    assert (rows[amount]["kassa_amount"], rows[amount]["provider_amount"]) == ("99.99", "100.00")
    assert rows[captured]["difference"] == "captured"
    assert rows[refunded]["difference"] == "refunded"
    assert rows[refunded]["provider_refunded"] == "0.00"


async def test_a_canceled_authorization_agrees(client: httpx.AsyncClient, db: Backend) -> None:
    m = await merchant(db.sessions)
    held = (await pay(client, m.auth, capture=False)).json()
    canceled = await client.post(f"/v1/payments/{held['id']}/cancel", headers=m.auth)
    assert canceled.json()["status"] == "canceled"
    still_held = (await pay(client, m.auth, capture=False)).json()
    rows = await _rows(client, m)
    assert _sides(rows[held["id"]]) == ("canceled", "canceled", "0.00", "0.00", "0.00", "0.00", "")
    assert _sides(rows[still_held["id"]])[:2] == ("requires_capture", "requires_capture")
    assert rows[still_held["id"]]["difference"] == ""


async def test_refunded_payments_agree(client: httpx.AsyncClient, db: Backend) -> None:
    m = await merchant(db.sessions)
    partly, fully = [(await pay(client, m.auth)).json()["id"] for _ in range(2)]
    part = {"amount": {"value": "25.00", "currency": "USD"}}
    await client.post(f"/v1/payments/{partly}/refund", json=part, headers=m.auth)
    await client.post(f"/v1/payments/{fully}/refund", headers=m.auth)
    rows = await _rows(client, m)
    assert _sides(rows[partly]) == (
        "partially_refunded",
        "succeeded",
        "100.00",
        "100.00",
        "25.00",
        "25.00",
        "",
    )
    assert _sides(rows[fully]) == (
        "refunded",
        "succeeded",
        "100.00",
        "100.00",
        "100.00",
        "100.00",
        "",
    )


async def test_a_partial_capture_agrees(client: httpx.AsyncClient, db: Backend) -> None:
    m = await merchant(db.sessions)
    held = (await pay(client, m.auth, capture=False)).json()
    part = {"amount_to_capture": {"value": "30.00", "currency": "USD"}}
    await client.post(f"/v1/payments/{held['id']}/capture", json=part, headers=m.auth)
    row = (await _rows(client, m))[held["id"]]
    assert _sides(row) == ("succeeded", "succeeded", "30.00", "30.00", "0.00", "0.00", "")


async def test_a_declined_payment_agrees(client: httpx.AsyncClient, db: Backend) -> None:
    m = await merchant(db.sessions)
    declined = (await pay(client, m.auth, token="pm_card_insufficientFunds")).json()
    row = (await _rows(client, m))[declined["payment_id"]]
    assert _sides(row) == ("failed", "failed", "0.00", "0.00", "0.00", "0.00", "")


async def test_a_payment_the_provider_has_no_record_of_is_missing(
    client: httpx.AsyncClient, db: Backend, tmp_path: Path
) -> None:
    """kassa says it was charged; the install's provider never received it (here: it went
    to a mock of the same name that keeps its own, separate records)."""
    m = await merchant(db.sessions)
    elsewhere = MockProvider("mock", ledger=MockLedger("mock"))
    registry = build_registry(db.settings(tmp_path), extra_providers={"mock": elsewhere})
    view = await create_and_confirm(
        db.sessions,
        registry,
        NewPayment(m.account_id, False, Money(700, "USD"), payment_method="pm_card_visa"),
    )
    row = (await _rows(client, m))[str(view["id"])]
    assert _sides(row) == (
        "succeeded",
        "not_sent",
        "7.00",
        "0.00",
        "0.00",
        "0.00",
        "missing_at_provider",
    )


async def test_a_payment_in_flight_is_in_flight(client: httpx.AsyncClient, db: Backend) -> None:
    m = await merchant(db.sessions)
    lost = (await pay(client, m.auth, token="pm_card_timeout")).json()
    row = (await _rows(client, m))[lost["id"]]
    assert (row["kassa_status"], row["provider_status"], row["difference"]) == (
        "processing",
        "succeeded",
        "in_flight",
    )


async def test_an_accounts_open_circuit_is_a_provider_error_on_its_rows_only(
    app: FastAPI, app_client: httpx.AsyncClient, db: Backend
) -> None:
    client = app_client
    e, f = await merchant(db.sessions, "E"), await merchant(db.sessions, "F")
    ours, theirs = (await pay(client, e.auth)).json(), (await pay(client, f.auth)).json()
    registry: ProviderRegistry = app.state.providers
    breaker = registry.breaker("mock", CallScope(e.account_id, livemode=False))
    breaker.opened_at = clock.now().timestamp()
    row = (await _rows(client, e))[ours["id"]]
    assert (row["provider_status"], row["provider_captured"], row["difference"]) == (
        "",
        "",
        "provider_error:circuit_open",
    )
    assert (await _rows(client, f))[theirs["id"]]["difference"] == ""


async def test_a_provider_no_longer_configured_is_named(
    client: httpx.AsyncClient, db: Backend, tmp_path: Path
) -> None:
    m = await merchant(db.sessions)
    registry = build_registry(db.settings(tmp_path, providers_enabled="mock_gone"))
    view = await create_and_confirm(
        db.sessions,
        registry,
        NewPayment(
            m.account_id,
            False,
            Money(700, "USD"),
            payment_method="pm_card_visa",
            provider="mock_gone",
        ),
    )
    row = (await _rows(client, m))[str(view["id"])]
    assert row["difference"] == "provider_not_configured"


def test_every_difference_is_documented() -> None:
    doc = (ROOT / "docs" / "payments.md").read_text()
    section = doc[doc.index("## Reconciliation") :]
    for value in DIFFERENCES:
        assert re.search(rf"\|\s*`{re.escape(value)}`\s*\|", section), value
    assert "`not_sent`" in section


async def test_a_cell_a_spreadsheet_would_run_is_text(
    client: httpx.AsyncClient, db: Backend
) -> None:
    """A provider's id is the provider's text: a formula in it never runs in a spreadsheet."""
    m = await merchant(db.sessions)
    paid = (await pay(client, m.auth)).json()
    await _tamper(db, paid["id"], provider_payment_id='=HYPERLINK("https://evil.example")')
    row = (await _rows(client, m))[paid["id"]]
    assert row["provider_payment_id"] == '\'=HYPERLINK("https://evil.example")'
    assert row["kassa_amount"] == "100.00"  # numbers stay numbers
