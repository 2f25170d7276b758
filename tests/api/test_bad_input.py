"""Bad input is a 400 (or 404) problem naming what is wrong; never a 500, never a false 503.

Before: a time without zone or a day at the calendar's end answered 500 (without the request
id), a NUL in an id answered "503 the database is unavailable", invalid UTF-8 and too deeply
nested JSON were ``http_error``, and "١٠" or " 1.00" were accepted as amounts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kassa.payins.models import Payment
from kassa.webhooks.outbound.models import WebhookEndpoint
from tests.conftest import Backend
from tests.factories import merchant


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]
    return body


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/v1/payments?created_gte=2026-12-01T00:00:00", "created_gte"),
        ("/v1/payments?created_lte=2026-12-01", "created_lte"),
        ("/v1/events?created_gte=2026-12-01T00:00:00", "created_gte"),
        ("/v1/events?created_lt=2026-12-01T00:00:00", "created_lt"),
        ("/v1/payments?created_gte=9999-12-31T23:59:59-01:00", "created_gte"),
        ("/v1/events?created_lt=0001-01-01T00:00:00%2B01:00", "created_lt"),
        ("/v1/events?created_lt=0.5", "created_lt"),
        ("/v1/reports/reconciliation?date=9999-12-31", "date"),
        ("/v1/reports/reconciliation?date=0", "date"),
    ],
)
async def test_a_bad_time_or_day_is_400_naming_the_parameter(
    client: httpx.AsyncClient, db: Backend, path: str, param: str
) -> None:
    acme = await merchant(db.sessions)
    body = _problem(await client.get(path, headers=acme.auth), 400, "invalid_request")
    assert body["param"] == param
    assert "Value error" not in body["detail"]


async def test_a_time_with_a_zone_filters(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions)
    created = await client.post(
        "/v1/payments",
        json={"amount": {"value": "1.00", "currency": "USD"}, "payment_method": "pm_card_visa"},
        headers=acme.auth,
    )
    assert created.status_code == 201
    since = created.json()["created_at"]
    for zone in ("Z", "+00:00"):
        listed = await client.get(
            "/v1/payments",
            params={"created_gte": since.replace("Z", zone), "created_lte": "9999-12-31T23:59Z"},
            headers=acme.auth,
        )
        assert listed.status_code == 200, listed.text
        assert [p["id"] for p in listed.json()["data"]] == [created.json()["id"]]
    day = since[:10]
    report = await client.get(f"/v1/reports/reconciliation?date={day}", headers=acme.auth)
    assert report.status_code == 200
    assert created.json()["id"] in report.text


async def test_a_recover_window_without_zone_is_400(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions)
    endpoint = await client.post(
        "/v1/webhook_endpoints", json={"url": "https://example.com/h"}, headers=acme.auth
    )
    recovered = await client.post(
        f"/v1/webhook_endpoints/{endpoint.json()['id']}/recover",
        json={"since": "2026-12-01T00:00:00Z", "until": "2026-12-02T00:00:00"},
        headers=acme.auth,
    )
    assert _problem(recovered, 400, "invalid_request")["param"] == "until"


ID_PATHS = [
    "/v1/payments/{}",
    "/v1/refunds/{}",
    "/v1/events/{}",
    "/v1/customers/{}",
    "/v1/payment_methods/{}",
    "/v1/webhook_endpoints/{}",
    "/v1/webhook_endpoints/{}/deliveries",
]


@pytest.mark.parametrize("template", ID_PATHS)
@pytest.mark.parametrize("bad", ["pay_%00abc", "x%01y", "%1B", "a%0Ab"])
async def test_a_control_character_in_an_id_is_404_not_a_database_outage(
    client: httpx.AsyncClient, db: Backend, template: str, bad: str
) -> None:
    acme = await merchant(db.sessions)
    response = await client.get(template.format(bad), headers=acme.auth)
    _problem(response, 404, "resource_missing")
    health = await client.get("/health")
    assert health.json()["checks"]["database"]["status"] == "ok"


async def test_every_id_path_of_the_openapi_survives_a_nul(
    client: httpx.AsyncClient, db: Backend
) -> None:
    """Enumerated from the served document, so a new endpoint is covered automatically."""
    acme = await merchant(db.sessions)
    paths = (await client.get("/openapi.json")).json()["paths"]
    tried = 0
    for template, operations in paths.items():
        if "{" not in template:
            continue
        url = template.split("{")[0] + "id%00x" + template.split("}", 1)[1]
        for method in operations:
            response = await client.request(method.upper(), url, headers=acme.auth)
            assert response.status_code == 404, (method, url, response.text)
            tried += 1
    assert tried > 10


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"url": "https://example.com/h", "description": "\xff\xfe"}', "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid_json"),
        (b'{"url": ' * 70 + b'"x"' + b"}" * 70, "invalid_json"),
        (b'{"url": "https://example.com/h", "enabled_events": [NaN]}', "invalid_json"),
        (b'{"url": "https://example.com/h", "description": "\\ud800"}', "invalid_character"),
        (b'{"url": "https://example.com/h", "description": "a\\u0000b"}', "invalid_character"),
        (b'{"url": "https://example.com/h", "description": ', "invalid_json"),
    ],
    ids=["not-utf8", "deep", "deeper-than-64", "nan", "lone-surrogate", "nul", "truncated"],
)
async def test_a_body_that_is_not_valid_json_text_is_refused_with_its_code(
    client: httpx.AsyncClient, db: Backend, raw: bytes, code: str
) -> None:
    acme = await merchant(db.sessions)
    response = await client.post(
        "/v1/webhook_endpoints",
        content=raw,
        headers={**acme.auth, "Content-Type": "application/json"},
    )
    _problem(response, 400, code)
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


@pytest.mark.parametrize("value", ["١٠", "１０", " 1.00", "1.00 ", "1.00\n", "+1.00", "1e2", ""])
async def test_an_amount_is_ascii_digits_only(
    client: httpx.AsyncClient, db: Backend, value: str
) -> None:
    acme = await merchant(db.sessions)
    response = await client.post(
        "/v1/payments",
        json={"amount": {"value": value, "currency": "USD"}, "payment_method": "pm_card_visa"},
        headers=acme.auth,
    )
    assert _problem(response, 400, "invalid_amount")["param"] == "amount.value"
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Payment)) == 0


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/api_keys", {"livemode": 0}, "livemode"),
        ("/v1/webhook_endpoints/{endpoint}", {"enabled": "true"}, "enabled"),
        (
            "/v1/webhook_endpoints/{endpoint}/rotate_secret",
            {"expires_in_seconds": "60"},
            "expires_in_seconds",
        ),
        (
            "/v1/payments",
            {
                "amount": {"value": "1.00", "currency": "USD"},
                "payment_method": "pm_card_visa",
                "capture": 0,
            },
            "capture",
        ),
    ],
    ids=["livemode", "enabled", "expires_in_seconds", "capture"],
)
async def test_a_json_value_of_the_wrong_type_is_refused_not_coerced(
    client: httpx.AsyncClient, db: Backend, path: str, body: dict[str, Any], param: str | None
) -> None:
    """Found by schemathesis: ``0`` was read as false, ``"true"`` as true, ``"60"`` as 60."""
    acme = await merchant(db.sessions)
    endpoint = await client.post(
        "/v1/webhook_endpoints", json={"url": "https://example.com/h"}, headers=acme.auth
    )
    url = path.format(endpoint=endpoint.json()["id"])
    problem = _problem(await client.post(url, json=body, headers=acme.auth), 400, "invalid_request")
    assert problem["param"] == param
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Payment)) == 0
