"""Bodies are JSON; a client that forgets to say so (curl -d) is told how, and nothing runs."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from kassa.accounts.models import ApiKey
from tests.conftest import Backend
from tests.factories import merchant

BODY = b'{"name": "ci", "scopes": ["read"]}'


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
async def test_a_body_that_is_not_declared_json_is_refused_with_how_to(
    client: httpx.AsyncClient, db: Backend, content_type: str | None
) -> None:
    acme = await merchant(db.sessions)
    headers = dict(acme.auth)
    if content_type:
        headers["Content-Type"] = content_type
    async with db.sessions() as s:
        before = await s.scalar(select(func.count()).select_from(ApiKey))
    response = await client.post("/v1/api_keys", content=BODY, headers=headers)
    assert response.status_code == 415
    problem = response.json()
    assert problem["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in problem["detail"]
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ApiKey)) == before


async def test_json_with_a_charset_and_bodiless_posts_are_fine(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    created = await client.post(
        "/v1/api_keys",
        content=BODY,
        headers={**acme.auth, "Content-Type": "application/json; charset=utf-8"},
    )
    assert created.status_code == 201
    payment = await client.post(
        "/v1/payments",
        json={
            "amount": {"value": "1.00", "currency": "USD"},
            "payment_method": "pm_card_visa",
            "capture": False,
        },
        headers=acme.auth,
    )
    canceled = await client.post(f"/v1/payments/{payment.json()['id']}/cancel", headers=acme.auth)
    assert canceled.status_code == 200, canceled.text
