"""Cursor pagination as Stripe's, on every list endpoint: ``starting_after`` pages towards older
objects, ``ending_before`` towards newer ones (each page still newest first), never both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from kassa.accounts.users import create_user
from kassa.core.db import transaction
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.jobs.conftest import add_job
from tests.payins.conftest import pay

COUNT = 5


@dataclass
class Listing:
    path: str
    ids: list[str]  # newest first, as the list shows them
    headers: dict[str, str]


async def _created(response: Awaitable[httpx.Response]) -> str:
    answer = await response
    assert answer.status_code in (201, 202), answer.text
    object_id: str = answer.json()["id"]
    return object_id


async def _payments(api: httpx.AsyncClient, m: Merchant, db: Backend) -> Listing:
    ids = [await _created(pay(api, m.auth, value=f"{i + 1}.00")) for i in range(COUNT)]
    return Listing("/v1/payments", sorted(ids, reverse=True), m.auth)


async def _refunds(api: httpx.AsyncClient, m: Merchant, db: Backend) -> Listing:
    payment = await _created(pay(api, m.auth, value="50.00"))
    body = {"amount": {"value": "1.00", "currency": "USD"}}
    ids = [
        await _created(api.post(f"/v1/payments/{payment}/refund", json=body, headers=m.auth))
        for _ in range(COUNT)
    ]
    return Listing(f"/v1/refunds?payment_id={payment}", sorted(ids, reverse=True), m.auth)


async def _customers(api: httpx.AsyncClient, m: Merchant, db: Backend) -> Listing:
    ids = [
        await _created(api.post("/v1/customers", json={"name": f"c{i}"}, headers=m.auth))
        for i in range(COUNT)
    ]
    return Listing("/v1/customers", sorted(ids, reverse=True), m.auth)


async def _payment_methods(api: httpx.AsyncClient, m: Merchant, db: Backend) -> Listing:
    body = {"token": "pm_card_visa"}
    ids = [
        await _created(api.post("/v1/payment_methods", json=body, headers=m.auth))
        for _ in range(COUNT)
    ]
    return Listing("/v1/payment_methods", sorted(ids, reverse=True), m.auth)


async def _events(api: httpx.AsyncClient, m: Merchant, db: Backend) -> Listing:
    for i in range(COUNT):
        await _created(pay(api, m.auth, value=f"{i + 1}.00"))
    listed = await api.get(f"/v1/events?type=payment.succeeded&limit={COUNT}", headers=m.auth)
    ids = [e["id"] for e in listed.json()["data"]]
    assert len(ids) == COUNT
    return Listing("/v1/events?type=payment.succeeded", ids, m.auth)


async def _endpoints(api: httpx.AsyncClient, m: Merchant, db: Backend) -> Listing:
    ids = [
        await _created(
            api.post(
                "/v1/webhook_endpoints",
                json={"url": f"http://127.0.0.1:9/hook{i}"},
                headers=m.auth,
            )
        )
        for i in range(COUNT)
    ]
    return Listing("/v1/webhook_endpoints", sorted(ids, reverse=True), m.auth)


async def _deliveries(api: httpx.AsyncClient, m: Merchant, db: Backend) -> Listing:
    endpoint = await _created(
        api.post("/v1/webhook_endpoints", json={"url": "http://127.0.0.1:9/h"}, headers=m.auth)
    )
    ids = [
        await _created(api.post(f"/v1/webhook_endpoints/{endpoint}/test", headers=m.auth))
        for _ in range(COUNT)
    ]
    return Listing(
        f"/v1/webhook_endpoints/{endpoint}/deliveries", sorted(ids, reverse=True), m.auth
    )


async def _jobs(api: httpx.AsyncClient, m: Merchant, db: Backend) -> Listing:
    ids = [await add_job(db, "test.paged", {"n": n}) for n in range(COUNT)]
    password = "correct horse battery staple"
    async with transaction(db.sessions) as session:
        await create_user(
            session, email="ops@example.com", password=password, role="admin", account_id=None
        )
    token = await api.post(
        "/v1/auth/token", json={"email": "ops@example.com", "password": password}
    )
    assert token.status_code == 200, token.text
    admin = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return Listing("/v1/jobs?name=test.paged", sorted(ids, reverse=True), admin)


LISTINGS: dict[str, Callable[[httpx.AsyncClient, Merchant, Backend], Awaitable[Listing]]] = {
    "payments": _payments,
    "refunds": _refunds,
    "customers": _customers,
    "payment_methods": _payment_methods,
    "events": _events,
    "webhook_endpoints": _endpoints,
    "deliveries": _deliveries,
    "jobs": _jobs,
}


def _url(listing: Listing, query: str) -> str:
    return f"{listing.path}{'&' if '?' in listing.path else '?'}{query}"


async def _page(api: httpx.AsyncClient, listing: Listing, query: str) -> tuple[list[str], bool]:
    response = await api.get(_url(listing, query), headers=listing.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return [o["id"] for o in body["data"]], body["has_more"]


@pytest.mark.parametrize("resource", list(LISTINGS))
async def test_ending_before_pages_towards_newer_objects(
    api: httpx.AsyncClient, db: Backend, resource: str
) -> None:
    acme = await merchant(db.sessions)
    listing = await LISTINGS[resource](api, acme, db)
    newest, *_, oldest = ids = listing.ids
    assert (await _page(api, listing, "limit=100"))[0] == ids, resource

    # the page just before the oldest: the two above it, newest first, more before them
    assert await _page(api, listing, f"limit=2&ending_before={oldest}") == ([ids[2], ids[3]], True)
    assert await _page(api, listing, f"limit=2&ending_before={ids[2]}") == ([ids[0], ids[1]], False)
    assert await _page(api, listing, f"limit=3&ending_before={ids[2]}") == ([ids[0], ids[1]], False)
    assert await _page(api, listing, f"ending_before={newest}") == ([], False)
    # forwards still works as before, and both directions meet
    assert await _page(api, listing, f"limit=2&starting_after={ids[1]}") == ([ids[2], ids[3]], True)

    # walking back from the oldest, page by page, finds every newer object once
    seen: list[str] = []
    cursor, more = oldest, True
    while more:
        page, more = await _page(api, listing, f"limit=2&ending_before={cursor}")
        seen = page + seen
        cursor = page[0]
    assert seen == ids[:-1]


@pytest.mark.parametrize("resource", ["payments", "customers", "jobs"])
async def test_both_cursors_or_an_unknown_one_are_refused(
    api: httpx.AsyncClient, db: Backend, resource: str
) -> None:
    acme = await merchant(db.sessions)
    listing = await LISTINGS[resource](api, acme, db)
    both = await api.get(
        _url(listing, f"starting_after={listing.ids[0]}&ending_before={listing.ids[-1]}"),
        headers=listing.headers,
    )
    assert both.status_code == 400
    problem = both.json()
    assert problem["code"] == "parameter_conflict" and problem["param"] == "ending_before"
    assert {e["param"] for e in problem["errors"]} == {"starting_after", "ending_before"}
    prefix = listing.ids[0].split("_", 1)[0]
    for cursor in ("starting_after", "ending_before"):
        lost = await api.get(
            _url(listing, f"{cursor}={prefix}_01JD2X8Q0Y3V7K2M4N6P8R0T2W"), headers=listing.headers
        )
        assert lost.status_code == 400, cursor
        assert (lost.json()["code"], lost.json()["param"]) == ("resource_missing", cursor)


async def test_another_accounts_id_is_no_cursor(api: httpx.AsyncClient, db: Backend) -> None:
    acme, globex = await merchant(db.sessions, "Acme"), await merchant(db.sessions, "Globex")
    theirs = await _created(api.post("/v1/customers", json={}, headers=globex.auth))
    lost = await api.get(f"/v1/customers?ending_before={theirs}", headers=acme.auth)
    assert lost.status_code == 400 and lost.json()["code"] == "resource_missing"


async def test_every_paginated_list_in_the_openapi_takes_both_cursors(
    api: httpx.AsyncClient, db: Backend
) -> None:
    spec = (await api.get("/openapi.json")).json()
    paged = []
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        names = {p["name"] for p in (get or {}).get("parameters", [])}
        if "starting_after" in names:
            paged.append(path)
            assert {"limit", "ending_before"} <= names, path
    assert len(paged) >= len(LISTINGS)
