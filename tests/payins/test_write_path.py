"""One write path: PostgreSQL and SQLite write the very same rows for the same requests.

The change-set executor commits a change set as one statement of CTEs on PostgreSQL and as a
flush of Core statements on SQLite. This runs one script of requests (create, capture, cancel,
refunds, a refund the provider refuses, a decline, a charge whose answer is lost and that
reconciliation settles) against each database and compares every row of every table those
requests write, with ids (ours and the mock provider's) replaced by their order of appearance
and durations (an attempt's elapsed_ms, in its row and in events) dropped. Times are equal:
both runs read one frozen clock.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, select

from kassa.accounts.idempotency import IdempotencyKey
from kassa.core import clock, ids, migrate
from kassa.core.audit import AuditEntry
from kassa.core.crypto import BytesBox
from kassa.core.db import create_engine, session_factory
from kassa.jobs.models import Event, Job
from kassa.payins.models import Payment, PaymentAttempt, Refund
from kassa.payins.reconcile import reconcile
from kassa.providers.base import PermanentProviderError
from kassa.providers.mock import MockProvider
from kassa.providers.registry import build_registry
from tests.conftest import Backend
from tests.factories import merchant
from tests.openapi_conformance import api_transport

TABLES = [Payment, PaymentAttempt, Refund, Event, Job, AuditEntry, IdempotencyKey]
START = datetime(2026, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
_OUR_ID = re.compile(r"\b([a-z]+)_[0-9A-HJKMNP-TV-Z]{26}\b")
_MOCK_ID = re.compile(r"\b(mock[a-z]+)_[0-9a-f]{24}\b")


class _RefusesRefunds:
    """The mock provider, refusing refunds."""

    name = "mock"

    def __init__(self, inner: MockProvider) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def refund(self, request: object) -> object:
        raise PermanentProviderError("This refund is refused.", provider="mock", code="refused")


async def _script(db: Backend, tmp: Path) -> dict[str, list[dict[str, Any]]]:
    """The requests, then every row they wrote."""
    from kassa.api.app import create_app

    frozen = clock.FrozenClock(START)
    clock.install(frozen)
    settings = db.settings(tmp)
    app = create_app(settings)
    transport = api_transport(app)
    acme = await merchant(db.sessions)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as http,
    ):

        async def post(path: str, key: str | None = None, **body: Any) -> dict[str, Any]:
            headers = {**acme.auth, **({"Idempotency-Key": key} if key else {})}
            response = await http.post(f"/v1{path}", json=body or None, headers=headers)
            assert response.status_code < 500, response.text
            answer: dict[str, Any] = response.json()
            return answer

        def pay(value: str, token: str = "pm_card_visa", **extra: Any) -> dict[str, Any]:
            return {"amount": {"value": value, "currency": "USD"}, "payment_method": token, **extra}

        paid = await post("/payments", "create-1", **pay("100.00", metadata={"order": "1"}))
        assert paid["status"] == "succeeded"
        held = await post("/payments", "create-2", **pay("50.00", capture=False))
        captured = await post(
            f"/payments/{held['id']}/capture",
            "capture-2",
            amount_to_capture={"value": "30.00", "currency": "USD"},
        )
        assert captured["status"] == "succeeded"
        other = await post("/payments", None, **pay("20.00", capture=False))
        assert (await post(f"/payments/{other['id']}/cancel", "cancel-3"))["status"] == "canceled"
        part = await post(
            f"/payments/{paid['id']}/refund",
            "refund-1",
            amount={"value": "10.00", "currency": "USD"},
            reason="requested_by_customer",
        )
        assert part["status"] == "succeeded"
        assert (await post(f"/payments/{paid['id']}/refund"))["status"] == "succeeded"
        usual = app.state.providers
        app.state.providers = build_registry(  # a provider that refuses the next refund
            settings, extra_providers={"mock": _RefusesRefunds(MockProvider("mock"))}
        )
        failed = await post(
            f"/payments/{held['id']}/refund",
            "refund-2",
            amount={"value": "5.00", "currency": "USD"},
        )
        assert failed["status"] == "failed"
        app.state.providers = usual
        declined = await post("/payments", "create-4", **pay("7.00", "pm_card_insufficientFunds"))
        assert declined["code"] == "card_declined"
        lost = await post("/payments", "create-5", **pay("9.00", "pm_card_timeout"))
        assert lost["status"] == "processing"
    frozen.advance(timedelta(minutes=5))
    report = await reconcile(db.sessions, build_registry(settings), older_than=timedelta(0))
    assert report.settled == [lost["id"]]
    return await _rows(db, BytesBox(settings.secret_key_bytes(), "kassa.idempotency-responses"))


async def _rows(db: Backend, box: BytesBox) -> dict[str, list[dict[str, Any]]]:
    dump: dict[str, list[dict[str, Any]]] = {}
    async with db.sessions() as s:
        for model in TABLES:
            table = model.__table__
            assert isinstance(table, Table)
            keys = [c.key for c in table.primary_key.columns]
            rows = [dict(row) for row in (await s.execute(select(table))).mappings()]
            # In the order written (see _Counter); sorted here: the collations would differ.
            dump[table.name] = sorted(rows, key=lambda row: [row[k] for k in keys])
    for row in dump["idempotency_keys"]:
        if _OUR_ID.search(row["path"]):  # a digest of a path with an id: differs as the id does
            row["fingerprint"] = "<digest>"
        if row["response_body"] is not None:  # encrypted with a random nonce: compare the text
            row["response_body"] = json.loads(box.decrypt(row["response_body"]))
    return dump


def _normalised(dump: dict[str, list[dict[str, Any]]]) -> Any:
    seen: dict[str, str] = {}

    def placeholder(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"{match.group(1)}#{len(seen)}")

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return _MOCK_ID.sub(placeholder, _OUR_ID.sub(placeholder, value))
        if isinstance(value, dict):  # in key order: PostgreSQL's jsonb reorders keys
            return {
                walk(k): "<measured>" if k == "elapsed_ms" else walk(value[k])
                for k in sorted(value)
            }
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return value

    return walk(dump)


class _Counter:
    """Ids' random part as a counter: within a millisecond they sort as they were made, so
    sorting rows by id puts them in the order the requests wrote them, on both runs."""

    def __init__(self) -> None:
        self.value = 0

    def next(self) -> int:
        self.value += 1
        return self.value


async def test_postgresql_writes_exactly_the_rows_sqlite_writes(
    db: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.name != "postgresql":
        pytest.skip("compares PostgreSQL with a SQLite database of its own")
    monkeypatch.setattr(ids, "_random80", _Counter())
    url = f"sqlite+aiosqlite:///{tmp_path / 'compare.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    try:
        lite = Backend("sqlite", url, engine, session_factory(engine))
        # Each run in a task of its own: a request's context (actor, request id) stays in it.
        on_sqlite = _normalised(await asyncio.create_task(_script(lite, tmp_path / "sqlite")))
    finally:
        await engine.dispose()
    on_postgres = _normalised(await asyncio.create_task(_script(db, tmp_path / "postgresql")))
    counts = {name: len(rows) for name, rows in on_postgres.items()}
    assert counts["payments"] == 5 and counts["refunds"] == 3
    assert counts["idempotency_keys"] == 8 and counts["payment_attempts"] >= 10
    for name in on_postgres:
        assert on_postgres[name] == on_sqlite[name], name
