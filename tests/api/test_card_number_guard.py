"""A card number is refused wherever it appears in a request, in any form, and never kept.

Each probe below was stored and echoed back before the guard moved into the middleware (it
only looked at some pay-in bodies, and only for digits grouped by single spaces or dashes)."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kassa.accounts.models import ApiKey
from kassa.core.audit import AuditEntry
from kassa.payins.guard import luhn_valid
from kassa.webhooks.outbound.models import WebhookEndpoint
from tests.conftest import Backend
from tests.factories import Merchant, merchant

PAN = "4242424242424242"
ARABIC_INDIC = "".join(chr(0x0660 + int(d)) for d in PAN)
FORMS = {
    "plain": PAN,
    "double spaces": "4242  4242  4242  4242",
    "zero-width spaces": "\u200b".join(PAN),
    "dots": "4242.4242.4242.4242",
    "slashes": "4242/4242/4242/4242",
    "underscores": "4242_4242_4242_4242",
    "arabic-indic digits": ARABIC_INDIC,
    "fullwidth digits": "".join(chr(0xFF10 + int(d)) for d in PAN),
    "no-break spaces": "4242\u00a04242\u00a04242\u00a04242",
    "soft hyphens": "4242\u00ad4242\u00ad4242\u00ad4242",
    "in words": f"card{PAN}please",
    "with expiry and cvc": "4242 4242 4242 4242 12/28 123",
    "amex": "3782 822463 10005",
}


async def _count(db: Backend, model: Any) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def _refused(response: httpx.Response, param: str | None = None) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "card_number_refused"
    if param is not None:
        assert body["param"] == param
    for form in (PAN, *FORMS.values()):
        assert form not in response.text
        assert form not in str(response.headers)


@pytest.mark.parametrize("form", list(FORMS.values()), ids=list(FORMS))
async def test_a_card_number_in_any_form_is_refused_in_a_description(
    client: httpx.AsyncClient, db: Backend, form: str
) -> None:
    acme = await merchant(db.sessions)
    body = {"url": "https://example.com/hooks", "description": f"order {form}"}
    response = await client.post("/v1/webhook_endpoints", json=body, headers=acme.auth)
    _refused(response, "description")
    assert await _count(db, WebhookEndpoint) == 0


async def test_json_escapes_do_not_hide_a_card_number(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    escaped = "".join(f"\\u{ord(c):04x}" for c in ARABIC_INDIC)
    raw = '{"url": "https://example.com/h", "description": "' + escaped + '"}'
    response = await client.post(
        "/v1/webhook_endpoints",
        content=raw.encode(),
        headers={**acme.auth, "Content-Type": "application/json"},
    )
    _refused(response, "description")
    assert await _count(db, WebhookEndpoint) == 0


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/webhook_endpoints", {"url": f"https://example.com/{PAN}/hook"}, "url"),
        ("/v1/webhook_endpoints", {"url": "https://example.com/" + "%34%32" * 8}, "url"),
        ("/v1/api_keys", {"name": PAN, "scopes": ["read"]}, "name"),
        (
            "/v1/customers",
            {"name": "Ada", "metadata": {"note": {"deep": [1, {"card": PAN}]}}},
            None,  # metadata values must be strings: refused either way, never stored
        ),
        ("/v1/customers", {"name": "Ada", "metadata": {PAN: "x"}}, "metadata"),
        ("/v1/customers", {"name": "Ada", "metadata": {"n": int(PAN)}}, "metadata.n"),
    ],
    ids=["url", "url-percent-encoded", "api-key-name", "nested", "metadata-key", "number"],
)
async def test_a_card_number_is_refused_in_any_field_at_any_depth(
    client: httpx.AsyncClient, db: Backend, path: str, body: dict[str, Any], param: str | None
) -> None:
    acme = await merchant(db.sessions)
    keys_before = await _count(db, ApiKey)
    response = await client.post(path, json=body, headers=acme.auth)
    _refused(response, param)
    assert await _count(db, WebhookEndpoint) == 0
    assert await _count(db, ApiKey) == keys_before


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Idempotency-Key", PAN),
        ("Idempotency-Key", "order-4242-4242-4242-4242"),
        ("X-Request-Id", PAN),
        ("User-Agent", f"shop/1.0 ({PAN})"),
    ],
)
async def test_a_card_number_is_refused_in_a_header_kassa_keeps_or_echoes(
    client: httpx.AsyncClient, db: Backend, header: str, value: str
) -> None:
    acme = await merchant(db.sessions)
    body = {"url": "https://example.com/hooks"}
    response = await client.post(
        "/v1/webhook_endpoints", json=body, headers={**acme.auth, header: value}
    )
    _refused(response, header)
    assert response.headers["x-request-id"].startswith("req_")  # a fresh one, not the value
    assert await _count(db, WebhookEndpoint) == 0
    async with db.sessions() as s:
        agents = (await s.scalars(select(AuditEntry.user_agent))).all()
    assert not any(agent and "4242" in agent for agent in agents)


async def test_a_card_number_is_refused_in_the_query_and_the_path(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    listed = await client.get(f"/v1/customers?email={PAN}@example.com", headers=acme.auth)
    _refused(listed, "email")
    named = await client.get(f"/v1/customers?{PAN}=1", headers=acme.auth)
    _refused(named, "query")
    retrieved = await client.get(f"/v1/payments/pay_{PAN}", headers=acme.auth)
    _refused(retrieved, "path")


async def test_kassa_ids_whose_digits_look_like_a_card_number_are_not_refused(
    client: httpx.AsyncClient, db: Backend
) -> None:
    """A ULID's time and random parts may hold a Luhn-valid run of digits by chance; kassa
    never refuses an id it handed out, in a path, a query value or a body."""
    acme = await merchant(db.sessions)
    unlucky = "pay_01M8T9EVK20000000000000040"  # "20000000000000040" passes the Luhn check
    assert luhn_valid("20000000000000040")
    retrieved = await client.get(f"/v1/payments/{unlucky}", headers=acme.auth)
    assert retrieved.status_code == 404, retrieved.text
    assert retrieved.json()["code"] == "resource_missing"
    listed = await client.get(f"/v1/refunds?payment_id={unlucky}", headers=acme.auth)
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"] == []
    created = await client.post(
        "/v1/customers", json={"name": "Ada", "metadata": {"payment": unlucky}}, headers=acme.auth
    )
    assert created.status_code == 201, created.text
    # Only the id's exact shape is exempt: the same digits elsewhere are still a card number.
    _refused(await client.get(f"/v1/payments/pay_{PAN}", headers=acme.auth), "path")


async def test_evm_addresses_and_hashes_whose_digits_look_like_a_card_number_are_not_refused(
    client: httpx.AsyncClient, db: Backend
) -> None:
    """An address or a transaction hash is a hash output: about one in 200 holds a Luhn-valid
    run of digits by chance, and kassa must accept the addresses its payees and customers use."""
    acme = await merchant(db.sessions)
    address = "0x" + "4242424242424242" + "ab" * 12  # a test card's digits at the start
    tx_hash = "0x" + "ab" * 16 + "4242424242424242" + "cd" * 8
    assert len(address) == 42 and len(tx_hash) == 66 and luhn_valid("4242424242424242")
    created = await client.post(
        "/v1/customers",
        json={"name": "Ada", "metadata": {"wallet": address, "tx": tx_hash}},
        headers=acme.auth,
    )
    assert created.status_code == 201, created.text
    # Only the exact shapes are exempt: one hex digit more or less and the digits are checked.
    _refused(
        await client.post(
            "/v1/customers",
            json={"name": "Ada", "metadata": {"wallet": address + "a"}},
            headers=acme.auth,
        ),
        "metadata.wallet",
    )


async def test_a_hex_idempotency_key_whose_digits_look_like_a_card_number_is_not_refused(
    client: httpx.AsyncClient, db: Backend
) -> None:
    """About 2 in 1,000 ``uuid4().hex`` keys hold a Luhn-valid run of 13+ digits; a client
    retrying with its key must not be refused forever. A card number set apart is refused."""
    acme = await merchant(db.sessions)
    key = "ab" + "4242424242424242" + "cdef01234567ab"  # 32 hex characters, as uuid4().hex
    assert len(key) == 32
    created = await client.post(
        "/v1/customers", json={"name": "Ada"}, headers={**acme.auth, "Idempotency-Key": key}
    )
    assert created.status_code == 201, created.text
    spaced = await client.post(
        "/v1/customers",
        json={"name": "Ada"},
        headers={**acme.auth, "Idempotency-Key": "abcdef 4242424242424242"},
    )
    _refused(spaced, "Idempotency-Key")


async def test_a_refused_card_number_is_not_logged(
    client: httpx.AsyncClient, db: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    acme = await merchant(db.sessions)
    caplog.set_level(logging.DEBUG)
    await client.post(
        "/v1/webhook_endpoints",
        json={"url": "https://example.com/h", "description": PAN},
        headers={**acme.auth, "X-Request-Id": PAN, "Idempotency-Key": PAN},
    )
    for record in caplog.records:
        assert PAN not in record.getMessage()
        assert PAN not in json.dumps(record.__dict__, default=str)


async def test_refusals_are_counted_by_code_in_metrics(
    client: httpx.AsyncClient, db: Backend
) -> None:
    def counted(text: str) -> float:
        for line in text.splitlines():
            if (
                line.startswith("kassa_http_problems_total{")
                and 'code="card_number_refused"' in line
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    acme = await merchant(db.sessions)
    before = counted((await client.get("/metrics")).text)
    await client.post("/v1/api_keys", json={"name": PAN}, headers=acme.auth)
    await client.get("/v1/account", headers={**acme.auth, "X-Request-Id": PAN})
    assert counted((await client.get("/metrics")).text) == before + 2


async def _normal_requests(client: httpx.AsyncClient, acme: Merchant) -> list[httpx.Response]:
    """What integrations send all day: ids, ISO times, amounts, UUID keys, long references."""
    payment = await client.post(
        "/v1/payments",
        json={
            "amount": {"value": "999999999999.99", "currency": "USD"},
            "payment_method": "pm_card_visa",
            "description": "Invoice 2026-12-01 to 2026-12-31, period 01/12/2026 - 31/12/2026",
            "metadata": {
                "order": "ORD-2026-000123",
                "placed_at": "2026-12-01T12:30:45.123456789Z",
                "ts_ms": "1764592245123",
                "trace": str(uuid.uuid4()),
                "zero_padded": "0000000000000042",
            },
        },
        headers={**acme.auth, "Idempotency-Key": str(uuid.uuid4())},
    )
    responses = [payment]
    payment_id = payment.json().get("id", "pay_missing")
    responses.append(await client.get(f"/v1/payments/{payment_id}", headers=acme.auth))
    responses.append(
        await client.get(
            "/v1/payments",
            params={
                "created_gte": "2026-01-01T00:00:00.000001+02:00",
                "created_lte": "2999-12-31T23:59:59Z",
            },
            headers={**acme.auth, "X-Request-Id": "trace-01JD2ZK8G7Q2Y7M3X0ABCDEF12"},
        )
    )
    return responses


async def test_normal_requests_are_not_mistaken_for_card_numbers(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    for response in await _normal_requests(client, acme):
        assert response.status_code in (200, 201), response.text
    for _ in range(100):  # UUID idempotency keys, the ones Stripe recommends
        key = str(uuid.uuid4())
        response = await client.post(
            "/v1/customers",
            json={"name": "Ada", "metadata": {"ref": key}},
            headers={**acme.auth, "Idempotency-Key": key},
        )
        assert response.status_code in (200, 201), (key, response.text)
