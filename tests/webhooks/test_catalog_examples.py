"""The catalog's examples are what the events really carry, in the state each one announces."""

from __future__ import annotations

import httpx

from kassa.jobs.catalog import CATALOG
from kassa.payins import events as _events  # declares the pay-in events
from kassa.payins.state import EVENT_FOR
from tests.factories import Merchant

_ = _events
ZERO = "0.00"


def _data(name: str) -> dict[str, object]:
    return CATALOG[name].example


def test_payment_examples_show_the_state_their_event_announces() -> None:
    for name in (n for n in CATALOG if n.startswith("payment.")):
        data = _data(name)
        status = str(data["status"])
        assert name == ("payment.created" if status == "pending" else EVENT_FOR[status]), name
        captured = data["amount_captured"]["value"]  # type: ignore[index]
        if status in ("pending", "processing", "requires_capture", "failed", "canceled"):
            assert captured == ZERO, name
        if status in ("pending", "processing"):
            assert data["provider_payment_id"] is None and data["attempts"] == [], name
        if status == "requires_capture":
            assert data["amount_capturable"] == data["amount"] and data["capture"] is False
        if status in ("succeeded", "partially_refunded", "refunded"):
            assert captured == data["amount"]["value"], name  # type: ignore[index]
        refunded = data["amount_refunded"]["value"]  # type: ignore[index]
        assert (refunded != ZERO) == (status in ("partially_refunded", "refunded")), name
        assert (data["failure_code"] is not None) == (status == "failed"), name
        assert (data["canceled_at"] is not None) == (status == "canceled"), name
        if data["provider_payment_id"] is not None:  # it reached the provider: GET (and so
            # the event) shows the authorization among its attempts, whatever came after
            operations = [a["operation"] for a in data["attempts"]]  # type: ignore[union-attr]
            assert operations[:1] == ["authorize"], name


def test_refund_examples_show_the_state_their_event_announces() -> None:
    expected = {"refund.created": "pending", "refund.succeeded": "succeeded"}
    for name in (n for n in CATALOG if n.startswith("refund.")):
        data = _data(name)
        assert data["status"] == expected.get(name, "failed"), name
        assert (data["provider_refund_id"] is not None) == (name == "refund.succeeded"), name
        assert (data["failure_code"] is not None) == (name == "refund.failed"), name


async def test_examples_carry_every_field_the_api_shows(
    api: httpx.AsyncClient, acme: Merchant
) -> None:
    body = {"amount": {"value": "100.00", "currency": "USD"}, "payment_method": "pm_card_visa"}
    paid = await api.post("/v1/payments", json=body, headers=acme.auth)
    assert paid.status_code == 201, paid.text
    payment = paid.json()
    refunded = await api.post(
        f"/v1/payments/{payment['id']}/refund",
        json={"amount": {"value": "25.00", "currency": "USD"}},
        headers=acme.auth,
    )
    assert refunded.status_code in (200, 201), refunded.text
    for name in CATALOG:
        if name.startswith("payment."):
            assert list(_data(name)) == list(payment), name
        if name.startswith("refund."):
            assert list(_data(name)) == list(refunded.json()), name
