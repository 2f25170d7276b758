"""Replay, bulk recover, the test ping and the event log API."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import standardwebhooks

from kassa.core import clock
from tests.factories import Merchant, merchant
from tests.webhooks.conftest import EVENT, Outbound, create_endpoint
from tests.webhooks.helpers import attempts, deliveries
from tests.webhooks.receiver import Receiver, ok, status


async def test_replay_keeps_the_webhook_id_with_a_fresh_timestamp_and_signature(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    created = await create_endpoint(api, acme, receiver.url())
    event_id = await outbound.emit(acme)
    await outbound.drain()
    outbound.deliverer.wall_time = lambda: time.time() + 60  # a minute later
    replayed = await api.post(
        f"/v1/events/{event_id}/replay",
        headers=acme.auth,
        json={"webhook_endpoint": created["id"]},
    )
    assert replayed.status_code == 202, replayed.text
    await outbound.drain()

    first, second = receiver.at("hook")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == event_id
    assert int(second.headers["webhook-timestamp"]) > int(first.headers["webhook-timestamp"])
    assert second.headers["webhook-signature"] != first.headers["webhook-signature"]
    assert first.body == second.body
    headers = {k.lower(): v for k, v in second.headers.items()}
    standardwebhooks.Webhook(created["secret"]).verify(second.body, headers)
    [delivery] = await deliveries(outbound.db, created["id"])
    assert delivery.attempt_count == 2
    assert [a.trigger for a in await attempts(outbound.db, delivery.id)] == [
        "scheduled",
        "manual",
    ]


async def test_replay_to_an_endpoint_that_did_not_subscribe_and_bad_replays(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    narrow = await create_endpoint(
        api, acme, receiver.url("narrow"), enabled_events=["webhook_endpoint.*"]
    )
    event_id = await outbound.emit(acme)
    await outbound.drain()
    assert receiver.at("narrow") == []
    response = await api.post(
        f"/v1/events/{event_id}/replay", headers=acme.auth, json={"webhook_endpoint": narrow["id"]}
    )
    assert response.status_code == 202
    await outbound.drain()
    assert len(receiver.at("narrow")) == 1

    globex = await merchant(outbound.db.sessions, "Globex")
    foreign = await api.post(
        f"/v1/events/{event_id}/replay",
        headers=globex.auth,
        json={"webhook_endpoint": narrow["id"]},
    )
    assert foreign.status_code == 404
    missing = await api.post(
        "/v1/events/evt_nope/replay", headers=acme.auth, json={"webhook_endpoint": narrow["id"]}
    )
    assert missing.status_code == 404 and missing.json()["code"] == "resource_missing"


async def test_recover_resends_failed_deliveries_since_a_time(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    receiver.behave("hook", status(500))
    created = await create_endpoint(api, acme, receiver.url())
    ids = [await outbound.emit(acme, {"n": i}) for i in range(3)]
    await outbound.drain()
    assert {d.status for d in await deliveries(outbound.db, created["id"])} == {"failed"}
    receiver.behave("hook", ok)
    before = len(receiver.at("hook"))

    since = (clock.now() - timedelta(hours=1)).isoformat()
    recovered = await api.post(
        f"/v1/webhook_endpoints/{created['id']}/recover",
        headers=acme.auth,
        json={"since": since},
    )
    assert recovered.status_code == 202, recovered.text
    assert recovered.json()["queued"] == 3
    await outbound.drain()
    resent = receiver.at("hook")[before:]
    assert sorted(r.headers["webhook-id"] for r in resent) == sorted(ids)
    assert {d.status for d in await deliveries(outbound.db, created["id"])} == {"succeeded"}

    again = await api.post(
        f"/v1/webhook_endpoints/{created['id']}/recover",
        headers=acme.auth,
        json={"since": since},
    )
    assert again.json()["queued"] == 0  # nothing failed any more

    too_old = (clock.now() - timedelta(days=15)).isoformat()
    refused = await api.post(
        f"/v1/webhook_endpoints/{created['id']}/recover",
        headers=acme.auth,
        json={"since": too_old},
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "recover_window_exceeded"


async def test_ping_goes_to_that_endpoint_only(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    target = await create_endpoint(api, acme, receiver.url("target"))
    await create_endpoint(api, acme, receiver.url("bystander"))
    response = await api.post(f"/v1/webhook_endpoints/{target['id']}/test", headers=acme.auth)
    assert response.status_code == 202, response.text
    assert response.json()["webhook_endpoint"] == target["id"]
    await outbound.drain()
    [ping] = receiver.at("target")
    body = json.loads(ping.body)
    assert body["type"] == "webhook_endpoint.ping"
    assert body["data"]["webhook_endpoint"] == target["id"]
    assert receiver.at("bystander") == []


async def test_event_log_lists_filters_and_shows_deliveries(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    created = await create_endpoint(api, acme, receiver.url())
    first = await outbound.emit(acme)
    await api.post(f"/v1/webhook_endpoints/{created['id']}/test", headers=acme.auth)
    await outbound.drain()

    listed = await api.get("/v1/events", headers=acme.auth)
    assert listed.status_code == 200
    types = [e["type"] for e in listed.json()["data"]]
    assert types == ["webhook_endpoint.ping", EVENT]  # newest first
    only = await api.get("/v1/events", headers=acme.auth, params={"type": "test.*"})
    assert [e["id"] for e in only.json()["data"]] == [first]
    exact = await api.get("/v1/events", headers=acme.auth, params={"type": EVENT})
    assert [e["id"] for e in exact.json()["data"]] == [first]
    future = (clock.now() + timedelta(minutes=5)).isoformat()
    later = await api.get("/v1/events", headers=acme.auth, params={"created_gte": future})
    assert later.json()["data"] == []
    paged = await api.get("/v1/events", headers=acme.auth, params={"limit": 1})
    assert paged.json()["has_more"] is True

    shown = await api.get(f"/v1/events/{first}", headers=acme.auth)
    assert shown.status_code == 200
    [delivery] = shown.json()["deliveries"]
    assert delivery["status"] == "succeeded" and delivery["webhook_endpoint"] == created["id"]
    [attempt] = delivery["attempts"]
    assert attempt["response_status"] == 200 and attempt["request_headers"]["webhook-id"] == first

    by_endpoint = await api.get(
        f"/v1/webhook_endpoints/{created['id']}/deliveries",
        headers=acme.auth,
        params={"status": "succeeded"},
    )
    assert len(by_endpoint.json()["data"]) == 2

    globex = await merchant(outbound.db.sessions, "Globex")
    hidden = await api.get(f"/v1/events/{first}", headers=globex.auth)
    assert hidden.status_code == 404
    assert (await api.get("/v1/events", headers=globex.auth)).json()["data"] == []
    catalog = await api.get("/v1/event_types", headers=acme.auth)
    names = [t["name"] for t in catalog.json()["data"]]
    assert "webhook_endpoint.disabled" in names and EVENT in names


async def test_endpoint_crud_and_validation(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    created = await create_endpoint(
        api, acme, receiver.url(), enabled_events=["test.*"], description="orders"
    )
    updated = await api.patch(
        f"/v1/webhook_endpoints/{created['id']}",
        headers=acme.auth,
        json={"enabled_events": ["*"], "description": "all", "enabled": False},
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["enabled_events"] == ["*"] and body["enabled"] is False
    assert body["disabled_reason"] == "merchant"
    await outbound.emit(acme)
    await outbound.drain()
    assert receiver.received == []  # disabled endpoints get nothing

    unknown = await api.post(
        "/v1/webhook_endpoints",
        headers=acme.auth,
        json={"url": receiver.url(), "enabled_events": ["paymnt.*"]},
    )
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_event_type"
    extra = await api.post(
        "/v1/webhook_endpoints", headers=acme.auth, json={"url": receiver.url(), "x": 1}
    )
    assert extra.status_code == 400 and extra.json()["param"] == "x"

    deleted = await api.delete(f"/v1/webhook_endpoints/{created['id']}", headers=acme.auth)
    assert deleted.json() == {"id": created["id"], "object": "webhook_endpoint", "deleted": True}
    gone = await api.get(f"/v1/webhook_endpoints/{created['id']}", headers=acme.auth)
    assert gone.status_code == 404
    reader = await merchant(outbound.db.sessions, scopes=("read",))
    denied = await api.post(
        "/v1/webhook_endpoints", headers=reader.auth, json={"url": receiver.url()}
    )
    assert denied.status_code == 403


async def test_replay_answers_with_the_attempt_queued_and_the_log_shows_its_outcome(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    created = await create_endpoint(api, acme, receiver.url())
    event_id = await outbound.emit(acme)
    await outbound.drain()
    [original] = (await api.get(f"/v1/events/{event_id}", headers=acme.auth)).json()["deliveries"]
    assert original["attempt_count"] == 1 and original["next_attempt_at"] is None

    replayed = await api.post(
        f"/v1/events/{event_id}/replay", headers=acme.auth, json={"webhook_endpoint": created["id"]}
    )
    assert replayed.status_code == 202, replayed.text
    queued = replayed.json()
    # 202: the replay is queued (a worker sends it), and the answer says so
    assert queued["id"] == original["id"] and queued["next_attempt_at"] is not None
    await outbound.drain()
    [after] = (await api.get(f"/v1/events/{event_id}", headers=acme.auth)).json()["deliveries"]
    assert after["attempt_count"] == 2 and after["next_attempt_at"] is None
    assert after["status"] == "succeeded" and after["delivered_at"] > original["delivered_at"]
    assert [a["trigger"] for a in after["attempts"]] == ["scheduled", "manual"]

    # a replay that fails leaves the delivery delivered, with nothing left queued
    receiver.behave("hook", status(500))
    await api.post(
        f"/v1/events/{event_id}/replay", headers=acme.auth, json={"webhook_endpoint": created["id"]}
    )
    await outbound.drain()
    [last] = (await api.get(f"/v1/events/{event_id}", headers=acme.auth)).json()["deliveries"]
    assert last["status"] == "succeeded" and last["attempt_count"] == 3
    assert last["next_attempt_at"] is None and last["delivered_at"] == after["delivered_at"]


async def test_replaying_a_failed_delivery_answers_it_pending_again(
    api: httpx.AsyncClient, outbound: Outbound, receiver: Receiver, acme: Merchant
) -> None:
    receiver.behave("hook", status(500))
    created = await create_endpoint(api, acme, receiver.url())
    event_id = await outbound.emit(acme)
    await outbound.drain()
    [failed] = await deliveries(outbound.db, created["id"])
    assert failed.status == "failed" and failed.next_attempt_at is None
    receiver.behave("hook", ok)
    replayed = await api.post(
        f"/v1/events/{event_id}/replay", headers=acme.auth, json={"webhook_endpoint": created["id"]}
    )
    assert replayed.json()["status"] == "pending"
    assert replayed.json()["next_attempt_at"] is not None
    await outbound.drain()
    [done] = await deliveries(outbound.db, created["id"])
    assert done.status == "succeeded" and done.next_attempt_at is None
