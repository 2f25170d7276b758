"""Idempotency-Key on POSTs under /v1: replay, mismatches, what is and is not stored, expiry."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts import idempotency as keys
from kassa.accounts.api_keys import create_api_key
from kassa.accounts.models import SCOPES, ApiKey
from kassa.api import routes
from kassa.api.app import create_app
from kassa.api.deps import Session, WriteAccess, app_state
from kassa.api.idempotency import IdempotentRoute, claimed_key, fingerprint, make_idempotent
from kassa.core import audit, clock
from kassa.core.db import transaction
from kassa.core.errors import Conflict, RateLimited, ServiceUnavailable
from kassa.jobs import JobContext
from kassa.jobs.registry import JOBS
from kassa.jobs.scheduler import SCHEDULES
from tests.conftest import Backend
from tests.factories import merchant
from tests.openapi_conformance import api_transport

# A plain router only these tests mount (made idempotent like create_app does with every
# router): routes that fail in the ways real ones can.
probe = APIRouter(prefix="/v1", tags=["test"])
_failures = {"count": 0}


@probe.post("/_test/conflict")
async def conflict_after_writing(principal: WriteAccess, session: Session) -> dict[str, str]:
    audit.record(
        session,
        action="test.write",
        object_type="test",
        object_id="t1",
        account_id=principal.account_id,
    )
    raise Conflict("That cannot happen now.", code="payment_not_capturable")


async def _commit_a_change(request: Request, action: str) -> None:
    """What a provider route does first: commit its intent in a transaction of its own."""
    async with transaction(app_state(request).sessions) as own:
        audit.record(own, action=action, object_type="test", object_id="t2", account_id=None)
    claimed = claimed_key()
    assert claimed is not None
    claimed.committed()


@probe.post("/_test/committed_then_conflict")
async def conflict_after_committing(principal: WriteAccess, request: Request) -> None:
    await _commit_a_change(request, "test.committed")
    raise Conflict("The provider said no.", code="payment_not_cancelable")


@probe.post("/_test/committed_then_crash")
async def crash_after_committing(principal: WriteAccess, request: Request) -> None:
    await _commit_a_change(request, "test.crashed")
    raise RuntimeError("connection lost")  # the outcome is unknown


@probe.post("/_test/busy/{code}")
async def busy(code: str, principal: WriteAccess, session: Session) -> None:
    audit.record(session, action="test.busy", object_type="test", object_id="b", account_id=None)
    if code == "rate_limited":
        raise RateLimited(3)
    raise ServiceUnavailable("A dependency is down.")


@probe.post("/_test/flaky", status_code=201)
async def flaky(principal: WriteAccess) -> dict[str, int]:
    _failures["count"] += 1
    if _failures["count"] == 1:
        raise RuntimeError("boom")  # an unexpected error: a 500 the client may retry
    return {"attempt": _failures["count"]}


_slow: dict[str, object] = {}


@probe.post("/_test/slow", status_code=201)
async def outlived_by_a_retry(principal: WriteAccess, session: Session) -> dict[str, str]:
    """Runs past the lock timeout; a retry takes the key over meanwhile, then this one writes."""
    frozen, client, headers = _slow["clock"], _slow["client"], _slow["headers"]
    assert isinstance(frozen, clock.FrozenClock) and isinstance(client, httpx.AsyncClient)
    if "retry" not in _slow:  # the first request only; the retry just does its work
        frozen.advance(timedelta(seconds=61))
        _slow["retry"] = None
        _slow["retry"] = await client.post("/v1/_test/slow", headers=headers)  # type: ignore[arg-type]
    audit.record(session, action="test.slow", object_type="test", object_id="s", account_id=None)
    return {"done": "yes"}


@pytest.fixture
async def app(db: Backend, tmp_path: Path) -> AsyncIterator[FastAPI]:
    application = create_app(db.settings(tmp_path))
    application.include_router(make_idempotent(probe))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = api_transport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as c:
        yield c


async def _count(db: Backend, model: type[object], account_id: str) -> int:
    async with db.sessions() as session:
        query = select(func.count()).select_from(model).where(model.account_id == account_id)  # type: ignore[attr-defined]
        return int(await session.scalar(query) or 0)


async def test_a_retry_replays_the_first_response_and_creates_nothing(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "order-1001"}
    first = await client.post("/v1/api_keys", headers=headers, json={"name": "ci"})
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = await client.post("/v1/api_keys", headers=headers, json={"name": "ci"})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content  # byte for byte, secret included
    assert again.headers["content-type"] == first.headers["content-type"]
    assert await _count(db, ApiKey, acme.account_id) == 2  # the merchant's own key + one


async def test_the_same_json_written_differently_is_the_same_request(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "k1", "Content-Type": "application/json"}
    first = await client.post(
        "/v1/api_keys", headers=headers, content=b'{"name":"a","scopes":["read"]}'
    )
    again = await client.post(
        "/v1/api_keys", headers=headers, content=b'{ "scopes": ["read"],\n "name": "a" }'
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content


async def test_the_same_key_with_other_parameters_is_refused(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "k1"}
    await client.post("/v1/api_keys", headers=headers, json={"name": "ci"})
    other_body = await client.post("/v1/api_keys", headers=headers, json={"name": "cd"})
    assert other_body.status_code == 400
    assert other_body.json()["code"] == "idempotency_error"
    assert "different request body" in other_body.json()["detail"]
    other_path = await client.post(f"/v1/api_keys/{acme.key_id}/revoke", headers=headers)
    assert other_path.status_code == 400
    assert other_path.json()["code"] == "idempotency_error"
    assert "/v1/api_keys" in other_path.json()["detail"]
    listed = await client.get("/v1/api_keys", headers=acme.auth)
    assert not any(k["revoked"] for k in listed.json()["data"])  # the revoke never ran
    assert await _count(db, ApiKey, acme.account_id) == 2


async def test_validation_failures_are_not_stored(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "k1"}
    invalid = await client.post("/v1/api_keys", headers=headers, json={"name": ""})
    assert invalid.status_code == 400 and invalid.json()["code"] == "invalid_request"
    fixed = await client.post("/v1/api_keys", headers=headers, json={"name": "ok"})
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers


async def test_auth_and_scope_failures_are_not_stored(
    client: httpx.AsyncClient, db: Backend
) -> None:
    reader = await merchant(db.sessions, scopes=("read",))
    key = {"Idempotency-Key": "k1"}
    denied = await client.post("/v1/api_keys", headers={**reader.auth, **key}, json={})
    assert denied.status_code == 403
    unauthenticated = await client.post("/v1/api_keys", headers=key, json={})
    assert unauthenticated.status_code == 401
    async with transaction(db.sessions) as session:
        writer = await keys_for(session, reader.account_id)
    created = await client.post(
        "/v1/api_keys", headers={"Authorization": f"Bearer {writer}", **key}, json={}
    )
    assert created.status_code == 201 and "idempotent-replayed" not in created.headers


async def keys_for(session: AsyncSession, account_id: str) -> str:
    return (await create_api_key(session, account_id=account_id, scopes=SCOPES)).secret


async def test_keys_belong_to_one_account(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions, "Acme")
    globex = await merchant(db.sessions, "Globex")
    a = await client.post("/v1/api_keys", headers={**acme.auth, "Idempotency-Key": "same"}, json={})
    g = await client.post(
        "/v1/api_keys", headers={**globex.auth, "Idempotency-Key": "same"}, json={"name": "g"}
    )
    assert a.status_code == g.status_code == 201
    assert "idempotent-replayed" not in g.headers
    assert a.json()["id"] != g.json()["id"]
    assert await _count(db, ApiKey, acme.account_id) == 2
    assert await _count(db, ApiKey, globex.account_id) == 2


async def _writes(db: Backend, action: str) -> int:
    async with db.sessions() as session:
        query = select(func.count()).select_from(audit.AuditEntry)
        return int(await session.scalar(query.where(audit.AuditEntry.action == action)) or 0)


async def test_domain_errors_that_changed_nothing_leave_the_key_free(
    client: httpx.AsyncClient, db: Backend
) -> None:
    """A refusal raised in the request's transaction rolls it back: nothing changed, so
    nothing is remembered, and the same key runs the (corrected) request again."""
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "k1"}
    first = await client.post("/v1/_test/conflict", headers=headers)
    assert first.status_code == 409 and first.json()["code"] == "payment_not_capturable"
    again = await client.post("/v1/_test/conflict", headers=headers)
    assert again.status_code == 409 and "idempotent-replayed" not in again.headers
    assert await _writes(db, "test.write") == 0  # the route's own write was rolled back
    missing = {**acme.auth, "Idempotency-Key": "k2"}
    not_found = await client.post("/v1/api_keys/key_nope/revoke", headers=missing)
    assert not_found.status_code == 404
    other = await client.post("/v1/api_keys", headers=missing, json={"name": "fixed"})
    assert other.status_code == 201 and "idempotent-replayed" not in other.headers
    async with db.sessions() as session:
        left = (await session.scalars(select(keys.IdempotencyKey.path))).all()
    assert left == ["/v1/api_keys"]


@pytest.mark.parametrize("code", ["rate_limited", "service_unavailable"])
async def test_a_retriable_refusal_that_changed_nothing_leaves_the_key_free(
    client: httpx.AsyncClient, db: Backend, code: str
) -> None:
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "k1"}
    first = await client.post(f"/v1/_test/busy/{code}", headers=headers)
    assert first.json()["code"] == code and first.status_code in (429, 503)
    assert (await client.post("/v1/api_keys", headers=headers, json={})).status_code == 201
    assert await _writes(db, "test.busy") == 0


async def test_an_error_after_a_committed_change_is_remembered(
    client: httpx.AsyncClient, db: Backend
) -> None:
    """A provider route that committed its intent changed something: however it ends, a
    retry with the key gets that ending, and the change is not made twice."""
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "k1"}
    first = await client.post("/v1/_test/committed_then_conflict", headers=headers)
    assert first.status_code == 409 and first.json()["code"] == "payment_not_cancelable"
    again = await client.post("/v1/_test/committed_then_conflict", headers=headers)
    assert again.status_code == 409
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == "application/problem+json"
    other = await client.post("/v1/api_keys", headers=headers, json={})
    assert other.status_code == 400 and other.json()["code"] == "idempotency_error"
    assert await _writes(db, "test.committed") == 1


async def test_an_unexpected_error_after_a_committed_change_keeps_the_key(
    client: httpx.AsyncClient, db: Backend
) -> None:
    """The outcome is unknown: the key stays claimed (until the lock timeout, when the retry
    that takes it over is told to resume), never freed for a retry that would redo it."""
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "k1"}
    crashed = await client.post("/v1/_test/committed_then_crash", headers=headers)
    assert crashed.status_code == 500
    retry = await client.post("/v1/_test/committed_then_crash", headers=headers)
    assert retry.status_code == 409 and retry.json()["code"] == "idempotency_in_flight"
    assert await _writes(db, "test.crashed") == 1


async def test_unexpected_errors_release_the_key(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions)
    _failures["count"] = 0
    headers = {**acme.auth, "Idempotency-Key": "k1"}
    failed = await client.post("/v1/_test/flaky", headers=headers)
    assert failed.status_code == 500
    retried = await client.post("/v1/_test/flaky", headers=headers)
    assert retried.status_code == 201 and retried.json() == {"attempt": 2}
    replayed = await client.post("/v1/_test/flaky", headers=headers)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == {"attempt": 2}


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
async def test_malformed_keys_are_refused(client: httpx.AsyncClient, db: Backend, key: str) -> None:
    acme = await merchant(db.sessions)
    headers = [(k.encode(), v.encode()) for k, v in acme.auth.items()]
    headers.append((b"Idempotency-Key", key.encode("utf-8")))  # raw bytes: not only ASCII
    response = await client.post("/v1/api_keys", headers=headers, json={})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert await _count(db, ApiKey, acme.account_id) == 1


async def test_posts_without_a_key_and_unauthenticated_routes_work_as_before(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    one = await client.post("/v1/api_keys", headers=acme.auth, json={})
    two = await client.post("/v1/api_keys", headers=acme.auth, json={})
    assert one.status_code == two.status_code == 201 and one.json()["id"] != two.json()["id"]
    token = await client.post(
        "/v1/auth/token",
        headers={"Idempotency-Key": "x" * 300},  # ignored: no account to scope it to
        json={"email": "nobody@example.com", "password": "wrong"},
    )
    assert token.status_code == 401
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(keys.IdempotencyKey)) == 0


async def test_expired_keys_can_be_used_again(client: httpx.AsyncClient, db: Backend) -> None:
    frozen = clock.FrozenClock()
    clock.install(frozen)
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "k1"}
    first = await client.post("/v1/api_keys", headers=headers, json={"name": "a"})
    frozen.advance(timedelta(hours=23, minutes=59))
    still = await client.post("/v1/api_keys", headers=headers, json={"name": "b"})
    assert still.json()["code"] == "idempotency_error"
    frozen.advance(timedelta(minutes=1))
    fresh = await client.post("/v1/api_keys", headers=headers, json={"name": "b"})
    assert fresh.status_code == 201 and "idempotent-replayed" not in fresh.headers
    assert fresh.json()["id"] != first.json()["id"]


async def test_the_purge_job_deletes_expired_keys(client: httpx.AsyncClient, db: Backend) -> None:
    frozen = clock.FrozenClock()
    clock.install(frozen)
    acme = await merchant(db.sessions)
    for key in ("old-1", "old-2"):
        await client.post("/v1/api_keys", headers={**acme.auth, "Idempotency-Key": key}, json={})
    frozen.advance(timedelta(hours=23))
    await client.post("/v1/api_keys", headers={**acme.auth, "Idempotency-Key": "new"}, json={})
    frozen.advance(timedelta(hours=1))
    assert SCHEDULES["idempotency.purge"].job_name == "idempotency.purge"
    spec = JOBS.get("idempotency.purge")
    assert spec is not None
    async with db.sessions() as session:
        await spec.handler(JobContext("job_1", spec.name, {}, 1, 3, session, db.sessions))
    async with db.sessions() as session:
        left = (await session.scalars(select(keys.IdempotencyKey.key))).all()
    assert left == ["new"]


async def test_a_stale_claim_is_taken_over(client: httpx.AsyncClient, db: Backend) -> None:
    frozen = clock.FrozenClock()
    clock.install(frozen)
    acme = await merchant(db.sessions)
    body = b'{"name":"x"}'
    scope = f"{acme.account_id}/api_key:{acme.key_id}"  # the key's own claims
    dead = keys.Request(
        scope, "k1", fingerprint("POST", "/v1/api_keys", "", body), "POST", "/v1/api_keys"
    )
    async with transaction(db.sessions) as session:  # a process claimed it, then died
        claimed = await keys.claim(
            session, dead, ttl=timedelta(hours=24), lock_timeout=timedelta(seconds=60)
        )
    assert isinstance(claimed, keys.Claimed)
    headers = {**acme.auth, "Idempotency-Key": "k1", "Content-Type": "application/json"}
    busy = await client.post("/v1/api_keys", headers=headers, content=body)
    assert busy.status_code == 409
    assert busy.json()["code"] == "idempotency_in_flight"
    assert 1 <= int(busy.headers["retry-after"]) <= 5
    frozen.advance(timedelta(seconds=61))
    taken = await client.post("/v1/api_keys", headers=headers, content=body)
    assert taken.status_code == 201 and "idempotent-replayed" not in taken.headers
    async with transaction(db.sessions) as session:  # the dead claim can no longer finish
        change = keys.finish_change(
            dead, lock_id=claimed.lock_id, status_code=201, headers={}, body=b"{}"
        )
        assert not await keys.finish(session, change)
    replay = await client.post("/v1/api_keys", headers=headers, content=body)
    assert replay.content == taken.content


async def test_stored_responses_are_encrypted(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions)
    created = await client.post(
        "/v1/api_keys", headers={**acme.auth, "Idempotency-Key": "k1"}, json={}
    )
    secret = created.json()["secret"].encode()
    async with db.sessions() as session:
        row = await session.scalar(select(keys.IdempotencyKey))
    assert row is not None and row.response_body is not None
    assert secret not in row.response_body and b"sk_test_" not in row.response_body


def test_every_post_route_of_the_app_is_idempotent(app: FastAPI) -> None:
    """create_app makes every router in kassa.api.routes idempotent; none can forget to be."""
    posts = []
    for info in pkgutil.iter_modules(routes.__path__):
        router = getattr(importlib.import_module(f"kassa.api.routes.{info.name}"), "router", None)
        for route in getattr(router, "routes", []):
            if isinstance(route, APIRoute) and "POST" in (route.methods or ()):
                posts.append((route.path, isinstance(route, IdempotentRoute)))
    assert ("/v1/api_keys", True) in posts
    assert [path for path, idempotent in posts if not idempotent] == []


async def test_a_request_that_lost_its_claim_changes_nothing(
    client: httpx.AsyncClient, db: Backend
) -> None:
    frozen = clock.FrozenClock()
    clock.install(frozen)
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "k1"}
    _slow.clear()
    _slow.update(clock=frozen, client=client, headers=headers)
    outlived = await client.post("/v1/_test/slow", headers=headers)
    retry = _slow["retry"]
    assert isinstance(retry, httpx.Response)
    assert retry.status_code == 201  # it took the stale claim over and did the work
    # The slow first request found its claim gone when it came to store its response.
    assert outlived.status_code == 409 and outlived.json()["code"] == "idempotency_in_flight"
    async with db.sessions() as session:
        writes = await session.scalar(
            select(func.count())
            .select_from(audit.AuditEntry)
            .where(audit.AuditEntry.action == "test.slow")
        )
    assert writes == 1  # the retry's, not the outlived request's
    replay = await client.post("/v1/_test/slow", headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == retry.content
